import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import request from 'supertest';
import { Outbox } from '@outbox-relay/outbox';
import { createOrdersTestDb, type OrdersTestDb } from './support/orders-db';

let db: OrdersTestDb;
beforeAll(async () => {
  db = await createOrdersTestDb('create');
});
afterAll(async () => {
  await db.drop();
});

const validBody = () => ({ customerId: randomUUID(), amount: 42.5, currency: 'USD' });

async function eventsOf(orderId: string) {
  const { rows } = await db.pool.query(
    `SELECT id, aggregate_type, aggregate_id, event_type, payload, headers, xmin::text AS xid
       FROM "${db.outboxSchema}".outbox WHERE aggregate_id = $1 ORDER BY seq`,
    [orderId],
  );
  return rows;
}

describe('POST /orders', () => {
  it('creates the order and exactly one OrderCreated event in the same transaction', async () => {
    const body = validBody();
    const res = await request(await db.app()).post('/orders').send(body).expect(201);
    expect(res.body).toEqual({ orderId: expect.any(String), state: 'CREATED' });
    const { orderId } = res.body as { orderId: string };
    expect(res.headers.location).toBe(`/orders/${orderId}`);
    expect(res.headers['idempotent-replayed']).toBeUndefined();

    const { rows: orders } = await db.pool.query(
      `SELECT customer_id, amount::text AS amount, currency, state, version, created_at, xmin::text AS xid
         FROM "${db.ordersSchema}".orders WHERE id = $1`,
      [orderId],
    );
    expect(orders).toHaveLength(1);
    const order = orders[0];
    expect(order).toMatchObject({ customer_id: body.customerId, amount: '42.50', currency: 'USD', state: 'CREATED', version: 1 });

    const events = await eventsOf(orderId);
    expect(events).toHaveLength(1);
    const event = events[0];
    expect(event).toMatchObject({ aggregate_type: 'Order', aggregate_id: orderId, event_type: 'OrderCreated' });
    expect(event.payload).toEqual({
      orderId,
      customerId: body.customerId,
      amount: 42.5,
      currency: 'USD',
      createdAt: (order.created_at as Date).toISOString(),
    });
    // Same writing transaction id: the order and its event committed together.
    expect(event.xid).toBe(order.xid);
  });

  it('defaults the currency to EUR', async () => {
    const { customerId } = validBody();
    const res = await request(await db.app()).post('/orders').send({ customerId, amount: 10 }).expect(201);
    const [event] = await eventsOf(res.body.orderId);
    expect(event.payload).toMatchObject({ currency: 'EUR', amount: 10 });
  });

  describe('rejects invalid bodies with 400 naming each bad field, writing nothing', () => {
    const customerId = randomUUID();
    const cases: Array<[string, unknown, string[]]> = [
      ['missing customerId', { amount: 10 }, ['customerId']],
      ['customerId not a uuid', { customerId: 'c-1', amount: 10 }, ['customerId']],
      ['negative amount', { customerId, amount: -5 }, ['amount']],
      ['zero amount', { customerId, amount: 0 }, ['amount']],
      ['amount with 3 decimals', { customerId, amount: 1.005 }, ['amount']],
      ['amount as a string', { customerId, amount: '10' }, ['amount']],
      ['amount above the maximum', { customerId, amount: 1e12 }, ['amount']],
      ['lower-case currency', { customerId, amount: 10, currency: 'eur' }, ['currency']],
      ['unknown currency', { customerId, amount: 10, currency: 'ABC' }, ['currency']],
      ['unknown field', { customerId, amount: 10, note: 'x' }, ['note']],
      ['everything wrong at once', { amount: -1, currency: 'euro', extra: true }, ['customerId', 'amount', 'currency', 'extra']],
      ['an array instead of an object', [{ customerId, amount: 10 }], ['(root)']],
    ];
    it.each(cases)('%s', async (_name, body, fields) => {
      const before = await db.counts();
      const res = await request(await db.app()).post('/orders').send(body as object).expect(400);
      expect(res.body.error).toBe('validation_failed');
      const paths = (res.body.issues as Array<{ path: string; message: string }>).map((i) => i.path);
      expect([...paths].sort()).toEqual([...fields].sort());
      for (const issue of res.body.issues) expect(issue.message).toEqual(expect.any(String));
      expect(await db.counts()).toEqual(before);
    });
  });

  it('answers malformed JSON with 400, not 500', async () => {
    const before = await db.counts();
    const res = await request(await db.app())
      .post('/orders')
      .set('Content-Type', 'application/json')
      .send('{"customerId": "x", "amount": ')
      .expect(400);
    expect(res.body.error).toBe('malformed_json');
    expect(await db.counts()).toEqual(before);
  });

  it('answers a body over the limit with 413', async () => {
    const before = await db.counts();
    const res = await request(await db.app())
      .post('/orders')
      .send({ ...validBody(), padding: 'x'.repeat(70 * 1024) })
      .expect(413);
    expect(res.body.error).toBe('payload_too_large');
    // The limit is configurable.
    await request(await db.app({ bodyLimitBytes: 1024 }))
      .post('/orders')
      .send({ ...validBody(), padding: 'x'.repeat(2000) })
      .expect(413);
    expect(await db.counts()).toEqual(before);
  });

  it('answers a non-JSON content type with 415 and a missing body with 400', async () => {
    const before = await db.counts();
    const res = await request(await db.app()).post('/orders').set('Content-Type', 'text/plain').send('hello').expect(415);
    expect(res.body.error).toBe('unsupported_media_type');
    const empty = await request(await db.app()).post('/orders').expect(400);
    expect(empty.body.issues).toEqual([{ path: '(root)', message: 'request body is required' }]);
    expect(await db.counts()).toEqual(before);
  });

  it('puts the correlation id and trace context into the event headers', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await request(await db.app())
      .post('/orders')
      .set('X-Request-Id', 'req-abc-123')
      .set('traceparent', traceparent)
      .set('tracestate', 'vendor=x')
      .send(validBody())
      .expect(201);
    expect(res.headers['x-request-id']).toBe('req-abc-123');
    const [event] = await eventsOf(res.body.orderId);
    expect(event.headers).toEqual({ correlationId: 'req-abc-123', traceparent, tracestate: 'vendor=x' });
  });

  it('generates a correlation id when none is given and ignores an invalid traceparent', async () => {
    const res = await request(await db.app()).post('/orders').set('traceparent', 'not-a-trace').send(validBody()).expect(201);
    const correlationId = res.headers['x-request-id'];
    expect(correlationId).toMatch(/^[0-9a-f-]{36}$/);
    const [event] = await eventsOf(res.body.orderId);
    expect(event.headers).toEqual({ correlationId });
  });

  it('logs orderId, eventId and correlationId as JSON', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    const res = await request(await db.app({ logger })).post('/orders').set('X-Request-Id', 'log-test-1').send(validBody()).expect(201);
    const [event] = await eventsOf(res.body.orderId);
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: 'request completed',
        status: 201,
        orderId: res.body.orderId,
        eventId: event.id,
        correlationId: 'log-test-1',
      }),
    );
  });

  it('rolls the order back when the outbox write fails (no order, no key, no event)', async () => {
    // An outbox bound to a schema that has no outbox tables: enqueue fails after the order row was inserted.
    const broken = new Outbox({ pool: db.pool, schema: `${db.ordersSchema}` });
    const before = await db.counts();
    const body = validBody();
    const res = await request(await db.app({ outbox: broken }))
      .post('/orders')
      .set('Idempotency-Key', 'rollback-key')
      .send(body)
      .expect(500);
    expect(res.body).toMatchObject({ error: 'internal_error' });
    expect(await db.counts()).toEqual(before);
    const { rows } = await db.pool.query(`SELECT 1 FROM "${db.ordersSchema}".orders WHERE customer_id = $1`, [body.customerId]);
    expect(rows).toHaveLength(0);
    // The key was not consumed: a retry on a healthy instance creates the order.
    const retry = await request(await db.app()).post('/orders').set('Idempotency-Key', 'rollback-key').send(body).expect(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    await broken.close();
  });
});
