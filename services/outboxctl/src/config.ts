import { z } from 'zod';
import { outboxEnvShape } from '@outbox-relay/outbox';
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

/** Each setting: its flag, the variable it falls back to, and where it goes in CliConfig. */
const SETTINGS = [
  { variable: 'DATABASE_URL', flag: '--database-url', key: 'databaseUrl' },
  { variable: 'OUTBOX_SCHEMA', flag: '--schema', key: 'schema' },
  { variable: 'INBOX_SCHEMA', flag: '--inbox-schema', key: 'inboxSchema' },
] as const;

const configSchema = z.object({
  DATABASE_URL: outboxEnvShape.DATABASE_URL,
  OUTBOX_SCHEMA: outboxEnvShape.OUTBOX_SCHEMA,
  INBOX_SCHEMA: envVar.sqlIdentifier().default('inbox'),
});

/**
 * Flags win over the environment. Errors name the flag and the variable, because the user may have set either;
 * a bad database URL is not echoed back (it may hold a password).
 */
export function readConfig(flags: GlobalFlags, env: Environment): CliConfig {
  const input: Environment = {};
  for (const s of SETTINGS) input[s.variable] = flags[s.key] ?? env[s.variable];
  try {
    const parsed = parseEnv(configSchema, input);
    return { databaseUrl: parsed.DATABASE_URL, schema: parsed.OUTBOX_SCHEMA, inboxSchema: parsed.INBOX_SCHEMA };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigurationError(
      error.issues.map((issue) => {
        const setting = SETTINGS.find((s) => s.variable === issue.path) ?? SETTINGS[0];
        const value = input[setting.variable];
        const missing = value === undefined || value === '';
        return {
          flag: setting.flag,
          variable: setting.variable,
          message: missing
            ? `is required: pass ${setting.flag} or set ${setting.variable}`
            : setting.variable === 'DATABASE_URL'
              ? issue.message
              : `"${value}" ${issue.message}`,
        };
      }),
    );
  }
}
