import { z } from 'zod';
import { ConfigError, toFieldIssues } from './config-error';
import { plainMessage } from './plain-messages';

/**
 * Reads configuration once from an environment-like record, validated by a zod object whose keys are the
 * variable names. Errors name every bad or missing variable. Services call this at start-up and pass the
 * typed result down; nothing below reads process.env.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.output<S> {
  // Empty strings count as unset, as shells and manifests often produce them.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  // A number that did not parse reaches the message as NaN: show the text that was set instead.
  const result = schema.safeParse(cleaned, {
    error: (issue) => plainMessage(Number.isNaN(issue.input) ? ({ ...issue, input: cleaned[String(issue.path?.[0])] } as typeof issue) : issue),
  });
  if (!result.success) throw new ConfigError(toFieldIssues(result.error.issues));
  return result.data;
}

/**
 * Reads a process's configuration once at start-up; on invalid configuration writes `<service>: <message>` and
 * one line per bad variable to stderr and exits with status 2 (the documented exit code of every process).
 */
export function readEnvOrExit<S extends z.ZodType>(service: string, schema: S, env: Record<string, string | undefined> = process.env): z.output<S> {
  return readConfigOrExit(service, () => parseEnv(schema, env));
}

/** `read()`'s configuration, or, when it throws ConfigError, the same report and exit status 2 as readEnvOrExit. */
export function readConfigOrExit<T>(service: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${service}: ${error.message}\n`);
    for (const issue of error.issues) process.stderr.write(`  ${issue.path}: ${issue.message}\n`);
    process.exit(2);
  }
}

/** The shapes of variables that several processes read, so each rule and its message exists once. */
export const envVar = {
  /** true/false, 1/0, yes/no. */
  flag: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  /** A whole number of milliseconds within [min, max]. */
  millis: (fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(fallback),
  /** A TCP port; 0 picks a free one. */
  port: () => z.coerce.number().int().min(0).max(65_535),
  /** A schema or table name the code puts into SQL text: lower case, so it never needs quoting. */
  sqlIdentifier: () => z.string().regex(SQL_IDENTIFIER, 'must be a lower-case SQL identifier'),
  logLevel: () => z.enum(LOG_LEVELS).default('info'),
};

/** A lower-case SQL identifier short enough for the names derived from it (`<schema>_<table>_<suffix>`). */
export const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]{0,47}$/;

/** pino's levels, and `silent`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
