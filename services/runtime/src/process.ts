import type { Logger } from 'pino';

/** How long the lines before a fatal one may take to reach the log pipe before the fatal one is written anyway. */
const FATAL_FLUSH_MS = 5000;

/** A bug that escaped every handler leaves the process in an unknown state: log it and exit 1. */
export function exitOnUncaught(logger: Logger): void {
  const fatal = (error: unknown, what: string) => {
    // pino's fatal() writes at once, synchronously: a line that a worker thread is still writing (a large one, a
    // slow pipe) would be overtaken or even cut in half by it. So the lines before it are flushed first; a pipe
    // that takes longer than FATAL_FLUSH_MS is stuck, and the fatal line matters more than the one it cuts.
    void settleWithin(new Promise<void>((resolve) => logger.flush(() => resolve())), FATAL_FLUSH_MS).then(() => {
      logger.fatal({ err: error }, what);
      return exitAfterFlush(logger, 1);
    });
  };
  process.on('uncaughtException', (error) => fatal(error, 'uncaught exception'));
  process.on('unhandledRejection', (error) => fatal(error, 'unhandled rejection'));
}

/**
 * Exits once the logger has written every line (at most `withinMs` later). pino writes asynchronously: an exit
 * right after a log call could lose that line, or write it after later ones, and the last lines of a process
 * (why it stopped, the fatal error) are the ones an incident needs.
 */
export async function exitAfterFlush(logger: Logger, code: number, withinMs = 1000): Promise<never> {
  await settleWithin(new Promise<void>((resolve) => logger.flush(() => resolve())), withinMs);
  process.exit(code);
}

/** `promise`'s value, or undefined if it has not settled within `ms` (for bounded shutdown steps). */
export function settleWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
