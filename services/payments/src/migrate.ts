import path from 'node:path';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { migrateInbox } from '@outbox-relay/inbox';
import { migrateOutbox, runMigrations, type MigrationSet } from '@outbox-relay/outbox';

/** The worker's own tables (the `payments` record). */
export const PAYMENTS_MIGRATIONS_DIR = path.resolve(__dirname, '..', 'migrations');
/** The fake gateway's ledger; applied only when the fake gateway is used. */
export const FAKE_GATEWAY_MIGRATIONS_DIR = path.resolve(__dirname, '..', 'migrations-fake-gateway');

export interface MigratePaymentsOptions {
  pool: Pool;
  outboxSchema: string;
  inboxSchema: string;
  paymentsSchema: string;
  /** Also create the fake gateway's ledger in the payments schema. */
  fakeGateway: boolean;
  partitions?: number;
  logger?: Logger;
}

/**
 * Creates or upgrades what the worker writes to: the outbox (its events), the inbox, and the payments schema.
 * The orders schema belongs to the order service and is not touched. Safe to run from several processes at once.
 */
export async function migratePayments(options: MigratePaymentsOptions): Promise<{ ran: string[] }> {
  const { pool, logger } = options;
  const outbox = await migrateOutbox({ pool, schema: options.outboxSchema, partitions: options.partitions, logger });
  const inbox = await migrateInbox({ pool, schema: options.inboxSchema, logger });
  const sets: MigrationSet[] = [{ dir: PAYMENTS_MIGRATIONS_DIR, table: 'payments_migrations' }];
  if (options.fakeGateway) sets.push({ dir: FAKE_GATEWAY_MIGRATIONS_DIR, table: 'fake_gateway_migrations' });
  const ran = await runMigrations({ pool, schema: options.paymentsSchema, logger, sets });
  logger?.info({ schema: options.paymentsSchema, ran }, 'payments schema migrated');
  return { ran: [...outbox.ran, ...inbox.ran, ...ran] };
}
