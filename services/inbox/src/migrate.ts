import path from 'node:path';
import type { Pool } from 'pg';
import type { Logger } from '@outbox-relay/runtime';
import { runMigrations } from '@outbox-relay/outbox';

/** The inbox's SQL migrations (shipped beside src/ and dist/). */
export const INBOX_MIGRATIONS_DIR = path.resolve(__dirname, '..', 'migrations');

/** Creates or upgrades the inbox tables in `schema`; safe to run from several processes at once. */
export async function migrateInbox(options: { pool: Pool; schema: string; logger?: Logger }): Promise<{ ran: string[] }> {
  const ran = await runMigrations({
    pool: options.pool,
    schema: options.schema,
    logger: options.logger,
    sets: [{ dir: INBOX_MIGRATIONS_DIR, table: 'inbox_migrations' }],
  });
  options.logger?.info({ schema: options.schema, ran }, 'inbox schema migrated');
  return { ran };
}
