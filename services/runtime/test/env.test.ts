/** Configuration is read once and every bad variable is named in one error, whatever the process. */
import { z } from 'zod';
import { ConfigError, envVar, parseEnv } from '@outbox-relay/runtime';

const schema = z.object({
  VERBOSE: envVar.flag(false),
  TIMEOUT_MS: envVar.millis(1000, 10, 60_000),
  PORT: envVar.port().default(8080),
  SCHEMA: envVar.sqlIdentifier().default('outbox'),
  LOG_LEVEL: envVar.logLevel(),
});

it('applies the defaults, and counts empty strings as unset (as shells and manifests produce them)', () => {
  expect(parseEnv(schema, { VERBOSE: '', TIMEOUT_MS: '' })).toEqual({ VERBOSE: false, TIMEOUT_MS: 1000, PORT: 8080, SCHEMA: 'outbox', LOG_LEVEL: 'info' });
});

it.each([
  ['true', true],
  ['1', true],
  ['yes', true],
  ['false', false],
  ['0', false],
  ['no', false],
])('reads the flag %j as %j', (text, value) => {
  expect(parseEnv(schema, { VERBOSE: text }).VERBOSE).toBe(value);
});

it('names every bad variable at once, with what it must be', () => {
  let error: unknown;
  try {
    parseEnv(schema, { VERBOSE: 'maybe', TIMEOUT_MS: '5', PORT: '70000', SCHEMA: 'Orders; DROP', LOG_LEVEL: 'loud' });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  const config = error as ConfigError;
  expect(config.variables.sort()).toEqual(['LOG_LEVEL', 'PORT', 'SCHEMA', 'TIMEOUT_MS', 'VERBOSE']);
  expect(config.issues.find((i) => i.path === 'SCHEMA')?.message).toBe('must be a lower-case SQL identifier');
  expect(config.message).toContain('TIMEOUT_MS');
});

it('says in plain words what each variable must be, and what it was, never in zod\'s words', () => {
  const strict = z.object({ DATABASE_URL: z.string().min(1), PORT: envVar.port(), LOG_LEVEL: envVar.logLevel(), TIMEOUT_MS: envVar.millis(1000, 10, 60_000) });
  let error: unknown;
  try {
    parseEnv(strict, { PORT: 'abc', LOG_LEVEL: 'loud', TIMEOUT_MS: '5' });
  } catch (e) {
    error = e;
  }
  const issues = (error as ConfigError).issues;
  expect(Object.fromEntries(issues.map((i) => [i.path, i.message]))).toEqual({
    DATABASE_URL: 'is required',
    PORT: 'must be a number (got "abc")',
    LOG_LEVEL: 'must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
    TIMEOUT_MS: 'must be at least 10 (got 5)',
  });
  for (const issue of issues) expect(issue.message).not.toMatch(/Invalid|expected|received/);
});
