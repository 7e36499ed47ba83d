import { Client } from 'pg';
import { z } from 'zod';
import { outboxEnvShape, parseDatabaseTarget } from '@outbox-relay/outbox';
import { ConfigError, envVar, parseEnv } from '@outbox-relay/runtime';
import { ConfigurationError } from './errors';

/** Connection settings of every command that touches the database; read once per run, then passed down. */
export interface CliConfig {
  databaseUrl: string;
  /** Schema of the outbox tables (relay dead letters, leases). */
  schema: string;
  /** Schema of the inbox tables (consumer dead letters). */
  inboxSchema: string;
}

/** The global flags as commander hands them over. */
export interface GlobalFlags {
  databaseUrl?: string;
  schema?: string;
  inboxSchema?: string;
}

export type Environment = Record<string, string | undefined>;

/** The rule of a schema name (the runtime's SQL_IDENTIFIER), as a person reads it. */
const SCHEMA_NAME = 'a lower-case SQL identifier of at most 48 characters: a-z or _, then a-z, 0-9 or _';

/**
 * Each setting: its flag, the variable it falls back to, where it goes in CliConfig, and what its value must be.
 * Messages are written from `mustBe`, never from the validator's wording, so what a user reads names the setting
 * and its rule whatever the validation library says. `secret`: the value is never echoed back.
 */
const SETTINGS = [
  {
    variable: 'DATABASE_URL',
    flag: '--database-url',
    key: 'databaseUrl',
    mustBe: 'a postgres:// URL, e.g. postgres://user:password@host:5432/database',
    secret: true,
  },
  { variable: 'OUTBOX_SCHEMA', flag: '--schema', key: 'schema', mustBe: SCHEMA_NAME, secret: false },
  { variable: 'INBOX_SCHEMA', flag: '--inbox-schema', key: 'inboxSchema', mustBe: SCHEMA_NAME, secret: false },
] as const;
type Setting = (typeof SETTINGS)[number];

/**
 * Whether pg can read `url`, each server of a host list on its own: its Client constructor parses the URL (and
 * throws on one it cannot) without connecting.
 */
function pgReadsUrl(url: string): boolean {
  try {
    for (const host of parseDatabaseTarget(url).hosts) new Client({ connectionString: host.connectionString });
    return true;
  } catch {
    return false;
  }
}

const configSchema = z.object({
  DATABASE_URL: outboxEnvShape.DATABASE_URL.refine(pgReadsUrl),
  OUTBOX_SCHEMA: outboxEnvShape.OUTBOX_SCHEMA,
  INBOX_SCHEMA: envVar.sqlIdentifier().default('inbox'),
});

/**
 * Flags win over the environment. Errors name the flag and the variable, because the user may have set either,
 * and say what the value must be and where the bad one came from; a database URL is not echoed back (it may hold
 * a password). An empty variable counts as unset (shells and manifests produce them), but an empty flag was typed
 * (`--schema "$UNSET"`): it is refused rather than silently replaced by the default.
 */
export function readConfig(flags: GlobalFlags, env: Environment): CliConfig {
  const input: Environment = {};
  for (const s of SETTINGS) input[s.variable] = flags[s.key] ?? env[s.variable];
  // The parser counts an empty value as unset, so empty flags are judged here.
  const emptyFlags = SETTINGS.filter((s) => flags[s.key] === '');
  const problems = emptyFlags.map((s) => problem(s, `must be ${s.mustBe} (${s.flag} was given an empty value)`));
  let parsed: z.output<typeof configSchema>;
  try {
    parsed = parseEnv(configSchema, input);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const invalid = SETTINGS.filter((s) => !emptyFlags.includes(s) && error.issues.some((issue) => issue.path === s.variable));
    problems.push(...invalid.map((s) => problem(s, describeInvalid(s, input[s.variable], flags[s.key] !== undefined))));
    // Every issue of this object schema names one of its keys; anything else is a bug, reported as it is.
    throw problems.length > 0 ? new ConfigurationError(problems) : error;
  }
  if (problems.length > 0) throw new ConfigurationError(problems);
  return { databaseUrl: parsed.DATABASE_URL, schema: parsed.OUTBOX_SCHEMA, inboxSchema: parsed.INBOX_SCHEMA };
}

function problem(s: Setting, message: string): { flag: string; variable: string; message: string } {
  return { flag: s.flag, variable: s.variable, message };
}

function describeInvalid(s: Setting, value: string | undefined, fromFlag: boolean): string {
  if (value === undefined || value === '') return `is required: pass ${s.flag} or set ${s.variable}`;
  const origin = fromFlag ? s.flag : s.variable;
  return s.secret ? `must be ${s.mustBe} (the value of ${origin} is not shown: it may hold a password)` : `must be ${s.mustBe} (got "${value}" from ${origin})`;
}
