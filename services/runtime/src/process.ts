import type { Logger } from 'pino';

/** A bug that escaped every handler leaves the process in an unknown state: log it and exit 1. */
export function exitOnUncaught(logger: Logger): void {
  const fatal = (error: unknown, what: string) => {
    logger.fatal({ err: error }, what);
    void exitAfterFlush(logger, 1);
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
