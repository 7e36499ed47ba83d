import type { Server } from 'node:http';
import type { Pool } from 'pg';
import { Outbox } from '@outbox-relay/outbox';
import { createOrdersHttp, migrateOrders, type OrdersHttpOptions } from '@outbox-relay/orders';
import { createTestSchema, quietLogger, uniqueName } from '@outbox-relay/test-support';

export interface OrdersTestDb {
  pool: Pool;
  outboxSchema: string;
  ordersSchema: string;
  outbox: Outbox;
  /** The order service's HTTP server on this test's schemas, silent unless `logger` is given, ready for supertest. */
  app(overrides?: Partial<OrdersHttpOptions>): Promise<Server>;
  /** Row counts of the order service's tables and the outbox. */
  counts(): Promise<{ orders: number; events: number; keys: number }>;
  drop(): Promise<void>;
}

/** A private outbox schema and orders schema, both migrated, for one test file. */
export async function createOrdersTestDb(prefix: string, options: { max?: number } = {}): Promise<OrdersTestDb> {
  const db = await createTestSchema(`${prefix}_ob`, { max: options.max ?? 30 });
  const ordersSchema = uniqueName(`${prefix}_or`);
  await migrateOrders({ pool: db.pool, schema: ordersSchema, outboxSchema: db.schema });
  const outbox = new Outbox({ pool: db.pool, schema: db.schema });
  return {
    pool: db.pool,
    outboxSchema: db.schema,
    ordersSchema,
    outbox,
    async app(overrides = {}) {
      const http = createOrdersHttp({ pool: db.pool, outbox, ordersSchema, logger: quietLogger, isReady: () => true, ...overrides });
      await http.app.ready();
      return http.app.server;
    },
    async counts() {
      const { rows } = await db.pool.query<{ orders: number; events: number; keys: number }>(
        `SELECT (SELECT count(*)::int FROM "${ordersSchema}".orders) AS orders,
                (SELECT count(*)::int FROM "${db.schema}".outbox) AS events,
                (SELECT count(*)::int FROM "${ordersSchema}".idempotency_keys) AS keys`,
      );
      return rows[0]!;
    },
    async drop() {
      await outbox.close();
      await db.pool.query(`DROP SCHEMA IF EXISTS "${ordersSchema}" CASCADE`);
      await db.drop();
    },
  };
}
