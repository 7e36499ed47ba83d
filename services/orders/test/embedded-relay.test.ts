import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import type { Msg } from '@nats-io/nats-core';
import { TEST_DATABASE_URL, TEST_NATS_URL, uniqueName, createTestStream, type TestStream } from '@outbox-relay/test-support';
import { httpJson, OrdersProcess } from './support/service-process';

const ordersSchema = uniqueName('erel_or');
const outboxSchema = uniqueName('erel_ob');
const instanceId = uniqueName('orders_relay');
const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
let nats: TestStream;
let proc: OrdersProcess | undefined;

beforeAll(async () => {
  nats = await createTestStream('erel');
});
afterAll(async () => {
  proc?.kill('SIGKILL');
  await proc?.exited;
  await nats.drop();
  await pool.query(`DROP SCHEMA IF EXISTS "${ordersSchema}" CASCADE`);
  await pool.query(`DROP SCHEMA IF EXISTS "${outboxSchema}" CASCADE`);
  await pool.end();
});

/** The first message on `subject`, awaited through a core subscription (JetStream publishes reach it too). */
function firstMessage(subject: string): Promise<Msg> {
  return new Promise((resolve, reject) => {
    nats.nc.subscribe(subject, {
      max: 1,
      callback: (error, msg) => (error ? reject(error) : resolve(msg)),
    });
  });
}

describe('orders with the embedded relay', () => {
  it('publishes OrderCreated to JetStream, reports leadership, and releases the lease on SIGTERM', async () => {
    const received = firstMessage(`${nats.subjectPrefix}.Order.OrderCreated`);
    await nats.nc.flush();
    proc = new OrdersProcess({
      DATABASE_URL: TEST_DATABASE_URL,
      NATS_URL: TEST_NATS_URL,
      OUTBOX_MIGRATE: 'true',
      OUTBOX_SCHEMA: outboxSchema,
      ORDERS_SCHEMA: ordersSchema,
      OUTBOX_STREAM: nats.stream,
      OUTBOX_SUBJECT_PREFIX: nats.subjectPrefix,
      RELAY_INSTANCE_ID: instanceId,
      PORT: '0',
    });
    const port = (await proc.waitForLog('listening')).port as number;

    const customerId = randomUUID();
    const created = await httpJson(port, 'POST', '/orders', { customerId, amount: 12.34 }, { 'x-request-id': 'relay-corr-1' });
    expect(created.status).toBe(201);
    const orderId = created.body.orderId as string;

    const msg = await received;
    expect(msg.json()).toMatchObject({ orderId, customerId, amount: 12.34, currency: 'EUR' });
    const { rows } = await pool.query<{ id: string }>(`SELECT id FROM "${outboxSchema}".outbox WHERE aggregate_id = $1`, [orderId]);
    expect(msg.headers?.get('Nats-Msg-Id')).toBe(rows[0]!.id);

    // Only a leader publishes, so this replica leads partition 0 now.
    const health = await httpJson(port, 'GET', '/healthz');
    expect(health.body.relay).toMatchObject({ instanceId, leading: true, partitions: [{ partition: 0, leading: true }] });
    const status = await httpJson(port, 'GET', '/status');
    expect(status.body).toMatchObject({ instanceId, leading: true, partitions: [{ partition: 0, leading: true, epoch: expect.any(Number) }] });

    proc.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    const lease = await pool.query(`SELECT holder, expires_at <= now() AS expired FROM "${outboxSchema}".outbox_partitions`);
    expect(lease.rows).toEqual([{ holder: null, expired: true }]);
    expect(proc.logs.map((l) => l.msg)).toContain('relay stopped, leases released');
  });
});
