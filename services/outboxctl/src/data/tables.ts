import type { Pool, PoolClient } from 'pg';
import { outboxTables, type OutboxTables } from '@outbox-relay/outbox';
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

export async function requireInbox(db: Pool | PoolClient, t: InboxTables): Promise<void> {
  if (!(await inboxMigrated(db, t))) {
    throw new DatabaseError(`inbox tables not found in schema "${t.schema}" (--inbox-schema / INBOX_SCHEMA); run \`outboxctl migrate\``);
  }
}

/** Wakes the relays, so replays go out at once. */
export async function wakeRelays(db: Pool, t: OutboxTables): Promise<void> {
  await db.query(`SELECT pg_notify($1, $2)`, [t.channel, relaySignalPayload({ kind: 'wake' })]);
}
