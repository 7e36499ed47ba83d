import type { z } from 'zod';
import type { Logger } from 'pino';
import { parseEnv } from './config';
import { ConfigError } from './errors';

/**
 * Reads a process's configuration once at start-up; on invalid configuration writes `<service>: <message>` and
 * one line per bad variable to stderr and exits with status 2 (the documented exit code of every process).
 */
export function readEnvOrExit<S extends z.ZodType>(service: string, schema: S, env: Record<string, string | undefined> = process.env): z.output<S> {
  try {
    return parseEnv(schema, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${service}: ${error.message}\n`);
    for (const issue of error.issues) process.stderr.write(`  ${issue.path}: ${issue.message}\n`);
    process.exit(2);
  }
}

/** A bug that escaped every handler leaves the process in an unknown state: log it and exit 1. */
export function exitOnUncaught(logger: Logger): void {
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (error) => {
    logger.fatal({ err: error }, 'unhandled rejection');
    process.exit(1);
  });
}

/** `promise`'s value, or undefined if it has not settled within `ms` (for bounded shutdown steps). */
export function settleWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
