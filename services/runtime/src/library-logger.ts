/**
 * What the libraries (outbox, inbox, telemetry, and this package's FailureLog) log through. An application that
 * installs them should not have to install pino, nor adopt it: any object with these four methods taking
 * `(context, message)` will do — a pino or bunyan logger as it is, a winston child, or `console` itself. They only
 * ever call these methods with a context object first and a message second, the argument order pino and bunyan
 * use, and `console` prints both. The services' own processes keep pino (`createLogger`, `ProcessLogger`).
 */
export interface Logger {
  debug(context: LogContext, message: string): void;
  info(context: LogContext, message: string): void;
  warn(context: LogContext, message: string): void;
  error(context: LogContext, message: string): void;
  /**
   * A logger that adds `bindings` to every line (pino's and bunyan's `child`). Optional: for a logger without it
   * (`console`), `childLogger` adds the bindings to each line's context instead.
   */
  child?(bindings: LogContext): Logger;
}

/** The fields of one log line besides its message; an error goes under `err` (pino's and bunyan's serializer key). */
export type LogContext = Record<string, unknown>;

const discard = (): void => undefined;

/** Writes nothing: what the libraries log through when the application gives them no logger. */
export const silentLogger: Logger = { debug: discard, info: discard, warn: discard, error: discard, child: () => silentLogger };

/** `logger` with `bindings` on every line: its own `child` when it has one, else a wrapper that merges them in. */
export function childLogger(logger: Logger, bindings: LogContext): Logger {
  return typeof logger.child === 'function' ? logger.child(bindings) : new BoundLogger(logger, bindings);
}

/** Bindings for a logger without `child`: each line's own context wins over them, as in pino. */
class BoundLogger implements Logger {
  constructor(
    private readonly target: Logger,
    private readonly bindings: LogContext,
  ) {}

  debug(context: LogContext, message: string): void {
    this.target.debug({ ...this.bindings, ...context }, message);
  }

  info(context: LogContext, message: string): void {
    this.target.info({ ...this.bindings, ...context }, message);
  }

  warn(context: LogContext, message: string): void {
    this.target.warn({ ...this.bindings, ...context }, message);
  }

  error(context: LogContext, message: string): void {
    this.target.error({ ...this.bindings, ...context }, message);
  }

  child(bindings: LogContext): Logger {
    return new BoundLogger(this.target, { ...this.bindings, ...bindings });
  }
}
