import type { Pool, PoolClient } from 'pg';
import { outboxTables, SchemaNotMigratedError, type OutboxTables } from '@outbox-relay/outbox';
import { relaySignalPayload } from '@outbox-relay/outbox/internal';
import { inboxTables, type InboxTables } from '@outbox-relay/inbox';
import type { CliConfig } from '../config';
import { DatabaseError } from '../errors';

export interface Tables {
  outbox: OutboxTables;
  inbox: InboxTables;
}

export function tablesOf(config: CliConfig): Tables {
  return { outbox: outboxTables(config.schema), inbox: inboxTables(config.inboxSchema) };
}

/**
 * Whether the inbox tables exist. Read-only commands still work on a database where only the outbox was migrated
 * (consumers are optional); commands that change consumer dead letters require them.
 */
export async function inboxMigrated(db: Pool | PoolClient, t: InboxTables): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [t.deadLetters]);
  return rows[0]?.present === true;
}

export async function requireInbox(db: Pool | PoolClient, t: Tables): Promise<void> {
  if (!(await inboxMigrated(db, t.inbox))) {
    throw new DatabaseError(`inbox tables not found in schema "${t.inbox.schema}" (--inbox-schema / INBOX_SCHEMA); run \`${migrateCommand(t)}\``);
  }
}

/**
 * The outboxctl command that creates these tables. It names both schemas, because `migrate` migrates both and
 * the user may have chosen either by flag or by variable: run as printed, it acts on the schemas that were missing.
 */
export function migrateCommand(t: Tables): string {
  return `outboxctl migrate --schema ${t.outbox.schema} --inbox-schema ${t.inbox.schema}`;
}

/** SQLSTATEs of a statement that met a schema without the tables or columns it uses: undefined table, column, schema. */
const NOT_MIGRATED_CODES = new Set(['42P01', '42703', '3F000']);

/**
 * `error` as a DatabaseError that names the outboxctl command migrating these schemas, when it says they lack what
 * this version uses (never migrated, or by an older version); null for any other error. The outbox library's own
 * SchemaNotMigratedError names the library's command, which an outboxctl user is not running.
 */
export function notMigratedError(error: unknown, t: Tables): DatabaseError | null {
  if (error instanceof SchemaNotMigratedError) {
    return new DatabaseError(`outbox schema "${error.schema}": ${error.problem}; run \`${migrateCommand(t)}\``, { cause: error });
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NOT_MIGRATED_CODES.has(code)) {
    return new DatabaseError(`${(error as Error).message} (is the schema migrated? run \`${migrateCommand(t)}\`)`, { cause: error });
  }
  return null;
}

/** Wakes the relays, so replays go out at once. */
export async function wakeRelays(db: Pool, t: OutboxTables): Promise<void> {
  await db.query(`SELECT pg_notify($1, $2)`, [t.channel, relaySignalPayload({ kind: 'wake' })]);
}
