import { randomUUID } from 'node:crypto';
import { migrateOrders } from '@outbox-relay/orders';
import { createOrdersTestDb, type OrdersTestDb } from './support/orders-db';

let db: OrdersTestDb;
beforeAll(async () => {
  db = await createOrdersTestDb('migr');
});
afterAll(async () => {
  await db.drop();
});

describe('migrateOrders', () => {
  it('is a no-op when run again, also concurrently', async () => {
    const again = () => migrateOrders({ pool: db.pool, schema: db.ordersSchema, outboxSchema: db.outboxSchema });
    const results = await Promise.all([again(), again()]);
    for (const result of results) expect(result).toEqual({ ran: [], partitions: 1 });
  });

  it('lets the database refuse impossible orders', async () => {
    const insert = (amount: string, currency: string, state = 'CREATED') =>
      db.pool.query(
        `INSERT INTO "${db.ordersSchema}".orders (id, customer_id, amount, currency, state) VALUES ($1, $2, $3, $4, $5)`,
        [randomUUID(), randomUUID(), amount, currency, state],
      );
    await expect(insert('0', 'EUR')).rejects.toMatchObject({ code: '23514' });
    await expect(insert('1', 'eur')).rejects.toMatchObject({ code: '23514' });
    await expect(insert('1', 'EUR', 'SHIPPED')).rejects.toMatchObject({ code: '23514' });
    for (const state of ['CREATED', 'PAYMENT_PENDING', 'PAID', 'FAILED']) await insert('1', 'EUR', state);
  });

  it('refuses an idempotency key that names no order, at commit', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO "${db.ordersSchema}".idempotency_keys (key, request_hash, order_id) VALUES ('k', 'h', $1)`, [
        randomUUID(),
      ]);
      await expect(client.query('COMMIT')).rejects.toMatchObject({ code: '23503' });
    } finally {
      client.release();
    }
  });
});
