import path from 'node:path';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { migrateInbox } from '@outbox-relay/inbox';
import { migrateOutbox, runMigrations } from '@outbox-relay/outbox';

/** The service's SQL migrations (beside src/ and dist/). */
export const ORDERS_MIGRATIONS_DIR = path.resolve(__dirname, '..', 'migrations');

export interface MigrateOrdersOptions {
  pool: Pool;
  /** Schema of the orders tables (ORDERS_SCHEMA). */
  schema: string;
  /** Schema of the outbox tables (OUTBOX_SCHEMA); may equal `schema`. */
  outboxSchema: string;
  /** Outbox partition count to configure; omitted keeps the current one (1 when new). */
  partitions?: number;
  logger?: Logger;
}

/**
 * Creates or upgrades the outbox tables, then the orders tables and the service's inbox (the payment events it
 * consumed) in the orders schema. Safe to run from several replicas at once.
 */
export async function migrateOrders(options: MigrateOrdersOptions): Promise<{ ran: string[]; partitions: number }> {
  const outbox = await migrateOutbox({
    pool: options.pool,
    schema: options.outboxSchema,
    partitions: options.partitions,
    logger: options.logger,
  });
  const ran = await runMigrations({
    pool: options.pool,
    schema: options.schema,
    logger: options.logger,
    sets: [{ dir: ORDERS_MIGRATIONS_DIR, table: 'orders_migrations' }],
  });
  const inbox = await migrateInbox({ pool: options.pool, schema: options.schema, logger: options.logger });
  options.logger?.info({ schema: options.schema, ran }, 'orders schema migrated');
  return { ran: [...outbox.ran, ...ran, ...inbox.ran], partitions: outbox.partitions };
}
