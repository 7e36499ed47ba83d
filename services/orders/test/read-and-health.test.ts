import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import request from 'supertest';
import { createOrdersTestDb, type OrdersTestDb } from './support/orders-db';

let db: OrdersTestDb;
beforeAll(async () => {
  db = await createOrdersTestDb('read');
});
afterAll(async () => {
  await db.drop();
});

describe('GET /orders/:id', () => {
  it('returns the stored order', async () => {
    const customerId = randomUUID();
    const created = await request(await db.app()).post('/orders').send({ customerId, amount: 1234.5, currency: 'JPY' }).expect(201);
    const res = await request(await db.app()).get(`/orders/${created.body.orderId}`).expect(200);
    expect(res.body).toEqual({
      orderId: created.body.orderId,
      customerId,
      amount: 1234.5,
      currency: 'JPY',
      state: 'CREATED',
      version: 1,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('answers 404 for an unknown order and 400 for an id that is not a uuid', async () => {
    const missing = await request(await db.app()).get(`/orders/${randomUUID()}`).expect(404);
    expect(missing.body.error).toBe('not_found');
    const bad = await request(await db.app()).get('/orders/not-a-uuid').expect(400);
    expect(bad.body).toMatchObject({ error: 'validation_failed', issues: [{ path: 'id', message: 'must be a UUID' }] });
  });
});

describe('routing', () => {
  it('answers unknown routes with 404 JSON and wrong methods with 405', async () => {
    const res = await request(await db.app()).get('/nope').expect(404).expect('Content-Type', /json/);
    expect(res.body.error).toBe('not_found');
    // Every error body carries the request's correlation id, the one echoed in X-Request-Id.
    expect(res.body.correlationId).toBe(res.headers['x-request-id']);
    const wrong = await request(await db.app()).delete(`/orders/${randomUUID()}`).expect(405);
    expect(wrong.headers.allow).toBe('GET, HEAD');
    expect(wrong.body.error).toBe('method_not_allowed');
    const list = await request(await db.app()).get('/orders').expect(405);
    expect(list.headers.allow).toBe('POST');
  });

  it('matches paths with a trailing slash and in any case, answers HEAD like GET without a body', async () => {
    const created = await request(await db.app()).post('/orders/').send({ customerId: randomUUID(), amount: 5 }).expect(201);
    const id = created.body.orderId as string;
    await request(await db.app()).get(`/ORDERS/${id}/`).expect(200);
    const head = await request(await db.app()).head(`/orders/${id}`).expect(200);
    expect(head.headers['content-type']).toMatch(/json/);
    expect(head.text ?? '').toBe('');
    await request(await db.app()).get('/healthz?verbose=1').expect(200);
  });

  it('refuses a JSON body in another charset or compressed (415), and a JSON scalar as what it is: not an object (400)', async () => {
    const latin = await request(await db.app()).post('/orders').set('Content-Type', 'application/json; charset=latin1').send('{}').expect(415);
    expect(latin.body.error).toBe('unsupported_media_type');
    const gzip = await request(await db.app()).post('/orders').set('Content-Type', 'application/json').set('Content-Encoding', 'gzip').send('{}').expect(415);
    expect(gzip.body.message).toMatch(/Content-Encoding gzip/);
    const scalar = await request(await db.app()).post('/orders').set('Content-Type', 'application/json').send('123').expect(400);
    expect(scalar.body).toMatchObject({ error: 'validation_failed', issues: [{ path: '(root)', message: 'must be a JSON object' }] });
    const vendor = await request(await db.app())
      .post('/orders')
      .set('Content-Type', 'application/vnd.orders+json')
      .send(JSON.stringify({ customerId: randomUUID(), amount: 1 }))
      .expect(201);
    expect(vendor.body.state).toBeDefined();
  });
});

describe('health', () => {
  it('healthz answers 200 whatever the readiness', async () => {
    const res = await request(await db.app({ isReady: () => false })).get('/healthz').expect(200);
    expect(res.body).toEqual({ status: 'ok', relay: null });
    const withRelay = await request(await db.app({ relayStatus: () => ({ leading: true }) })).get('/healthz').expect(200);
    expect(withRelay.body.relay).toEqual({ leading: true });
  });

  it('status reports the embedded relay, 404 when it is disabled', async () => {
    const status = { instanceId: 'i-1', leading: true, partitions: [{ partition: 0, leading: true, epoch: 3 }] };
    await request(await db.app({ relayStatus: () => status })).get('/status').expect(200, status);
    const disabled = await request(await db.app()).get('/status').expect(404);
    expect(disabled.body.message).toContain('ORDERS_RELAY_ENABLED');
  });

  it('readyz follows isReady and checks the database', async () => {
    let ready = false;
    const app = await db.app({ isReady: () => ready });
    const notReady = await request(app).get('/readyz').expect(503);
    expect(notReady.body.status).toBe('unavailable');
    ready = true;
    await request(app).get('/readyz').expect(200, { status: 'ready' });

    // Nothing listens on port 1: the database check fails, the answer is 503 (not 500, not a hang).
    const deadPool = new Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectionTimeoutMillis: 1000 });
    try {
      const res = await request(await db.app({ pool: deadPool })).get('/readyz').expect(503);
      expect(res.body.reason).toMatch(/^database: /);
    } finally {
      await deadPool.end();
    }
  });
});
