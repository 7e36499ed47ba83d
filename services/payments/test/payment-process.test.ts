/**
 * The built worker as a real process (dist/main.js): exit 2 naming bad variables; kill -9 during a slow gateway
 * call and a restart leave exactly one charge and one PaymentSucceeded; the admin switch of the fake gateway,
 * /healthz, the metrics line and a graceful SIGTERM. Builds the package first (incremental).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Outbox } from '@outbox-relay/outbox';
import { migrateOrders, orderCreatedEvent, OrderRepository } from '@outbox-relay/orders';
import { createTestSchema, type TestSchema, uniqueName, createTestStream, listeningPort, readStream, waitFor, type TestStream, ROOT, startService, type ServiceProcess } from '@outbox-relay/test-support';
import { workerProcessEnv } from './support/worker-process-env';

const MAIN = 'services/payments/dist/main.js';

let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;
let orders: OrderRepository;
const ordersSchema = uniqueName('payproc_or');
const inboxSchema = uniqueName('payproc_in');
const paymentsSchema = uniqueName('payproc_pa');
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'services/payments'], { cwd: ROOT, stdio: 'pipe' });
  db = await createTestSchema('payproc_ob');
  ns = await createTestStream('payproc');
  await migrateOrders({ pool: db.pool, schema: ordersSchema, outboxSchema: db.schema });
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
  orders = new OrderRepository(ordersSchema);
}, 120_000);

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop('SIGKILL')));
  await outbox.close();
  for (const schema of [ordersSchema, inboxSchema, paymentsSchema]) await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await ns.drop();
  await db.drop();
});

function startWorker(env: Record<string, string>): ServiceProcess {
  const proc = startService(MAIN, {
    ...workerProcessEnv({ outboxSchema: db.schema, ordersSchema, inboxSchema, paymentsSchema, stream: ns.stream, subjectPrefix: ns.subjectPrefix }),
    PAYMENTS_ACK_WAIT_MS: '2000',
    PAYMENTS_BACKOFF_MIN_MS: '100',
    PAYMENTS_METRICS_INTERVAL_MS: '300',
    LOG_LEVEL: 'info',
    ...env,
  });
  processes.push(proc);
  return proc;
}

async function consuming(proc: ServiceProcess): Promise<void> {
  await waitFor('the worker to consume', () => {
    if (proc.child.exitCode !== null) throw new Error(`worker exited ${proc.child.exitCode}: ${proc.stderr()}`);
    return proc.logs.some((l) => l.msg === 'payment worker consuming');
  });
}

async function ledger(orderId: string) {
  const { rows } = await db.pool.query<{ calls: number; charge_id: string | null }>(
    `SELECT calls, charge_id FROM "${paymentsSchema}".fake_gateway_charges WHERE idempotency_key = $1`,
    [orderId],
  );
  return rows;
}

async function countOutbox(orderId: string, eventType: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "${db.schema}".outbox WHERE aggregate_id = $1 AND event_type = $2`,
    [orderId, eventType],
  );
  return rows[0]!.n;
}

describe('payment worker process', () => {
  it('exits 2 and names each bad variable', async () => {
    const proc = startWorker({ PAYMENTS_MAX_RETRIES: '-1', FAKE_GATEWAY_SUCCESS_RATE: 'often', OUTBOX_MIGRATE: 'false' });
    expect(await proc.exited).toBe(2);
    expect(proc.stderr()).toMatch(/PAYMENTS_MAX_RETRIES/);
    expect(proc.stderr()).toMatch(/FAKE_GATEWAY_SUCCESS_RATE/);
    const missing = startService(MAIN, { PATH: process.env.PATH ?? '', DATABASE_URL: '' });
    processes.push(missing);
    expect(await missing.exited).toBe(2);
    expect(missing.stderr()).toMatch(/DATABASE_URL/);
  });

  it('kill -9 during a slow gateway call, then restart: exactly one charge and one PaymentSucceeded', async () => {
    const first = startWorker({ FAKE_GATEWAY_LATENCY_MS: '1500', RELAY_INSTANCE_ID: 'payments-a' });
    await consuming(first);
    const { order, eventId } = await outbox.transaction(async (tx) => {
      const o = await orders.insert(tx, { id: randomUUID(), customerId: randomUUID(), amount: 30, currency: 'EUR' });
      const [e] = await outbox.enqueue(tx, orderCreatedEvent(o));
      return { order: o, eventId: e!.id };
    });

    // The gateway has charged, its answer is 1.5 s away: the worker dies now, before its transaction commits.
    await waitFor('the charge to be made', async () => (await ledger(order.id))[0]?.charge_id ?? undefined);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(await orders.findById(db.pool, order.id)).toMatchObject({ state: 'PAYMENT_PENDING', version: 2 });
    expect(await countOutbox(order.id, 'PaymentSucceeded')).toBe(0);
    const { rows: inboxRows } = await db.pool.query(`SELECT 1 FROM "${inboxSchema}".inbox WHERE event_id = $1`, [eventId]);
    expect(inboxRows).toHaveLength(0);

    const second = startWorker({ FAKE_GATEWAY_LATENCY_MS: '20', RELAY_INSTANCE_ID: 'payments-b', PAYMENTS_HTTP_PORT: '0' });
    const port = await listeningPort(second, 'http listening');
    await consuming(second);
    await waitFor('the order to be PAID after the redelivery', async () => (await orders.findById(db.pool, order.id))?.state === 'PAID', 20_000);
    expect(await orders.findById(db.pool, order.id)).toMatchObject({ state: 'PAID', version: 3 });
    const [charge] = await ledger(order.id);
    expect(await ledger(order.id)).toHaveLength(1);
    expect(charge).toMatchObject({ calls: 2 });
    expect(await countOutbox(order.id, 'PaymentSucceeded')).toBe(1);
    const paidLine = second.logs.find((l) => l.msg === 'order paid' && l.orderId === order.id);
    expect(paidLine).toMatchObject({ service: 'payments', eventId, orderId: order.id, attempt: 2, chargeReplayed: true, chargeId: charge!.charge_id, version: 3 });

    // The restarted worker's relay takes over the dead one's lease and publishes the event, once.
    const published = await waitFor('PaymentSucceeded in the stream', async () => {
      const m = (await readStream(ns.nc, ns.stream)).filter((e) => e.aggregateId === order.id);
      return m.some((e) => e.eventType === 'PaymentSucceeded') ? m : undefined;
    }, 20_000);
    expect(published.map((m) => m.eventType)).toEqual(['OrderCreated', 'PaymentSucceeded']);

    // /healthz, the fake gateway's admin switch, the metrics line, and a graceful stop.
    const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { status: string; stats: Record<string, number> };
    expect(health).toMatchObject({ status: 'ok', stats: { processed: 1, succeeded: 1 } });
    const bad = await fetch(`http://127.0.0.1:${port}/admin/fake-gateway`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ successRate: 'x', colour: 'red' }) });
    expect(bad.status).toBe(400);
    const issues = ((await bad.json()) as { issues: Array<{ path: string }> }).issues.map((i) => i.path);
    expect(issues.sort()).toEqual(['colour', 'successRate']);
    const put = await fetch(`http://127.0.0.1:${port}/admin/fake-gateway`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failing: true }) });
    expect(await put.json()).toEqual({ successRate: 1, latencyMs: 20, failing: true });
    await waitFor('a metrics line', () =>
      second.logs.find((l) => l.msg === 'payments metrics' && (l.metrics as Record<string, number>).succeeded === 1),
    );
    const metrics = second.logs.find((l) => l.msg === 'payments metrics')!.metrics as Record<string, number>;
    expect(Object.keys(metrics)).toEqual(expect.arrayContaining(['processed', 'duplicates', 'succeeded', 'failed', 'retried', 'deadLettered']));

    expect(await second.stop('SIGTERM')).toBe(0);
    expect(second.logs.some((l) => l.msg === 'relay stopped, leases released')).toBe(true);
    expect(second.logs.some((l) => l.msg === 'shut down')).toBe(true);
  });
});
