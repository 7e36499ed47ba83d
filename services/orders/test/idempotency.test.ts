import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createOrdersTestDb, type OrdersTestDb } from './support/orders-db';

let db: OrdersTestDb;
beforeAll(async () => {
  db = await createOrdersTestDb('idem', { max: 30 });
});
afterAll(async () => {
  await db.drop();
});

async function ordersOfCustomer(customerId: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ id: string }>(`SELECT id FROM "${db.ordersSchema}".orders WHERE customer_id = $1`, [
    customerId,
  ]);
  return rows.map((r) => r.id);
}

async function eventCount(orderId: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "${db.outboxSchema}".outbox WHERE aggregate_id = $1`,
    [orderId],
  );
  return rows[0]!.n;
}

describe('Idempotency-Key', () => {
  it('replays the same order for the same key and body, writing nothing new', async () => {
    const app = await db.app();
    const body = { customerId: randomUUID(), amount: 19.99, currency: 'EUR' };
    const first = await request(app).post('/orders').set('Idempotency-Key', 'key-same-1').send(body).expect(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const before = await db.counts();

    const second = await request(app).post('/orders').set('Idempotency-Key', 'key-same-1').send(body).expect(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body).toEqual(first.body);
    expect(second.headers.location).toBe(`/orders/${first.body.orderId}`);

    expect(await db.counts()).toEqual(before);
    expect(await ordersOfCustomer(body.customerId)).toEqual([first.body.orderId]);
    expect(await eventCount(first.body.orderId)).toBe(1);
  });

  it('treats an equivalent body (defaults, number formatting, key order) as the same request', async () => {
    const app = await db.app();
    const customerId = randomUUID();
    const first = await request(app)
      .post('/orders')
      .set('Idempotency-Key', 'key-equivalent')
      .send({ customerId, amount: 10 })
      .expect(201);
    const second = await request(app)
      .post('/orders')
      .set('Idempotency-Key', 'key-equivalent')
      .set('Content-Type', 'application/json')
      .send(`{"currency":"EUR","amount":10.00,"customerId":"${customerId.toUpperCase()}"}`)
      .expect(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.body.orderId).toBe(first.body.orderId);
  });

  it('answers 422 when the key is reused with a different body, writing nothing', async () => {
    const app = await db.app();
    const body = { customerId: randomUUID(), amount: 5, currency: 'EUR' };
    const first = await request(app).post('/orders').set('Idempotency-Key', 'key-conflict').send(body).expect(201);
    const before = await db.counts();
    const res = await request(app)
      .post('/orders')
      .set('Idempotency-Key', 'key-conflict')
      .send({ ...body, amount: 6 })
      .expect(422);
    expect(res.body.error).toBe('idempotency_key_conflict');
    expect(res.body.message).toContain('key-conflict');
    expect(await db.counts()).toEqual(before);
    expect(await ordersOfCustomer(body.customerId)).toEqual([first.body.orderId]);
  });

  it('creates one order for 20 concurrent requests with the same key', async () => {
    const app = await db.app();
    const body = { customerId: randomUUID(), amount: 100, currency: 'GBP' };
    const before = await db.counts();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => request(app).post('/orders').set('Idempotency-Key', 'key-race').send(body)),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(201));
    const orderIds = new Set(responses.map((r) => r.body.orderId as string));
    expect(orderIds.size).toBe(1);
    expect(responses.filter((r) => r.headers['idempotent-replayed'] === undefined)).toHaveLength(1);

    const [orderId] = [...orderIds];
    expect(await ordersOfCustomer(body.customerId)).toEqual([orderId]);
    expect(await eventCount(orderId!)).toBe(1);
    const after = await db.counts();
    expect(after).toEqual({ orders: before.orders + 1, events: before.events + 1, keys: before.keys + 1 });
  });

  it('creates separate orders for different keys with the same body', async () => {
    const app = await db.app();
    const body = { customerId: randomUUID(), amount: 1, currency: 'EUR' };
    const a = await request(app).post('/orders').set('Idempotency-Key', 'key-a').send(body).expect(201);
    const b = await request(app).post('/orders').set('Idempotency-Key', 'key-b').send(body).expect(201);
    expect(a.body.orderId).not.toBe(b.body.orderId);
    expect((await ordersOfCustomer(body.customerId)).sort()).toEqual([a.body.orderId, b.body.orderId].sort());
  });

  it('rejects a key longer than 200 characters with 400 naming the header', async () => {
    const before = await db.counts();
    const res = await request(await db.app())
      .post('/orders')
      .set('Idempotency-Key', 'k'.repeat(201))
      .send({ customerId: randomUUID(), amount: 1 })
      .expect(400);
    expect(res.body.issues).toEqual([{ path: 'Idempotency-Key', message: expect.stringContaining('1-200') }]);
    await request(await db.app())
      .post('/orders')
      .set('Idempotency-Key', 'k'.repeat(200))
      .send({ customerId: randomUUID(), amount: 1 })
      .expect(201);
    expect((await db.counts()).orders).toBe(before.orders + 1);
  });
});
