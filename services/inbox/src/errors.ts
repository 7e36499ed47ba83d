import { OutboxError } from '@outbox-relay/outbox';

/**
 * Thrown by a handler for an event that no retry can fix (it fails validation, names something that does not
 * exist): the event is dead-lettered at once instead of after the retries.
 */
export class PermanentHandlerError extends OutboxError {}

/**
 * A handler threw while processing `eventId`; its transaction was rolled back. `cause` is what it threw. Errors
 * that are not wrapped in this (a failed BEGIN, a lost connection) come from the infrastructure and do not count
 * against the event's retries.
 */
export class HandlerFailedError extends OutboxError {
  readonly consumer: string;
  readonly eventId: string;
  constructor(consumer: string, eventId: string, cause: unknown) {
    super(`consumer ${consumer}: handler failed for event ${eventId}: ${describeError(cause)}`, { cause });
    this.consumer = consumer;
    this.eventId = eventId;
  }
  get permanent(): boolean {
    return this.cause instanceof PermanentHandlerError;
  }
}

/** One line for logs and the dead-letter reason: the error's class and message. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
