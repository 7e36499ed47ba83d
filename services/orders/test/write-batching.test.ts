/**
 * Creates without an Idempotency-Key share statements under load (see WriteBatcher), against the real Postgres:
 * each order still commits together with its own event, batches really form, and one order Postgres refuses
 * does not take the others of its batch down with it.
 */
import { randomUUID } from 'node:crypto';
import { OrderRepository } from '../src/data/order-repository';
import { OrderService } from '../src/service/order-service';
import { createOrdersTestDb, type OrdersTestDb } from './support/orders-db';

let db: OrdersTestDb;
beforeAll(async () => {
  db = await createOrdersTestDb('batching');
});
afterAll(async () => {
  await db.drop();
});

const service = (maxBatch: number) =>
  new OrderService({ pool: db.pool, outbox: db.outbox, repository: new OrderRepository(db.ordersSchema), writeBatching: { maxBatch, maxInFlight: 1 } });

async function rowsOf(orderIds: string[]) {
  const { rows } = await db.pool.query<{ id: string; order_xid: string; event_xids: string[]; event_ids: string[] }>(
    `SELECT o.id, o.xmin::text AS order_xid,
            array_remove(array_agg(e.xmin::text), NULL) AS event_xids, array_remove(array_agg(e.id::text), NULL) AS event_ids
       FROM "${db.ordersSchema}".orders o
       LEFT JOIN "${db.outboxSchema}".outbox e ON e.aggregate_id = o.id::text
      WHERE o.id = ANY($1::uuid[])
      GROUP BY o.id, o.xmin`,
    [orderIds],
  );
  return rows;
}

it('writes creates that queue behind a write in flight as one statement, each order with its own event', async () => {
  const orders = service(50);
  const request = () => ({ customerId: randomUUID(), amount: 10, currency: 'EUR' });
  // All submitted in one tick: the first goes alone at once, the other 39 queue behind it (one write in flight).
  const results = await Promise.all(Array.from({ length: 40 }, () => orders.create(request(), { correlationId: randomUUID() })));
  const rows = await rowsOf(results.map((r) => r.orderId));
  expect(rows).toHaveLength(40);
  for (const row of rows) {
    const result = results.find((r) => r.orderId === row.id)!;
    expect(row.event_ids).toEqual([result.eventId]);
    // Committed by the same transaction as its order: atomic, batched or not.
    expect(row.event_xids).toEqual([row.order_xid]);
  }
  expect(new Set(rows.map((r) => r.order_xid)).size).toBe(2);
});

it('writes one at a time with maxBatch 1', async () => {
  const orders = service(1);
  const results = await Promise.all(
    Array.from({ length: 5 }, () => orders.create({ customerId: randomUUID(), amount: 10, currency: 'EUR' }, { correlationId: randomUUID() })),
  );
  const rows = await rowsOf(results.map((r) => r.orderId));
  expect(new Set(rows.map((r) => r.order_xid)).size).toBe(5);
});

it('retries a batch Postgres refused one order at a time: only the refused order fails, and it leaves no event', async () => {
  await db.pool.query(`ALTER TABLE "${db.ordersSchema}".orders ADD CONSTRAINT refuse_13_13 CHECK (amount <> 13.13)`);
  try {
    const orders = service(50);
    const amounts = [10, 11, 13.13, 12, 14];
    const settled = await Promise.allSettled(
      amounts.map((amount) => orders.create({ customerId: randomUUID(), amount, currency: 'EUR' }, { correlationId: randomUUID() })),
    );
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((settled[2] as PromiseRejectedResult).reason).toMatchObject({ code: '23514' });
    const created = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.orderId] : []));
    const rows = await rowsOf(created);
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(row.event_xids).toEqual([row.order_xid]);
    const { rows: refused } = await db.pool.query(
      `SELECT count(*)::int AS n FROM "${db.outboxSchema}".outbox WHERE payload->>'amount' = '13.13'`,
    );
    expect(refused[0].n).toBe(0);
  } finally {
    await db.pool.query(`ALTER TABLE "${db.ordersSchema}".orders DROP CONSTRAINT refuse_13_13`);
  }
});
