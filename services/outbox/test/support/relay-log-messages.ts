import type { Logger, LogContext } from '@outbox-relay/outbox';
import { quietLogger } from '@outbox-relay/test-support';

/** A relay's logger that keeps the message of every line (and still writes them where TEST_LOG_LEVEL says). */
export class RelayLogMessages implements Logger {
  readonly messages: string[] = [];

  /** Lines with exactly this message so far. */
  count(message: string): number {
    return this.messages.filter((m) => m === message).length;
  }

  debug(context: LogContext, message: string): void {
    this.messages.push(message);
    quietLogger.debug(context, message);
  }

  info(context: LogContext, message: string): void {
    this.messages.push(message);
    quietLogger.info(context, message);
  }

  warn(context: LogContext, message: string): void {
    this.messages.push(message);
    quietLogger.warn(context, message);
  }

  error(context: LogContext, message: string): void {
    this.messages.push(message);
    quietLogger.error(context, message);
  }
}
