/**
 * The built worker as a real process (dist/main.js): exit 2 naming bad variables; kill -9 during a slow gateway
 * call and a restart leave exactly one charge, one PaymentStarted and one PaymentSucceeded; the admin switch of the
 * fake gateway, /healthz, the metrics line and a graceful SIGTERM. Builds the package first (incremental).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Outbox } from '@outbox-relay/outbox';
import { createTestSchema, type TestSchema, uniqueName, createTestStream, listeningPort, readStream, waitFor, type TestStream, ROOT, startService, type ServiceProcess } from '@outbox-relay/test-support';
import { enqueueOrderCreated } from './support/order-created';
import { messagesOf, paymentEvents, paymentRow } from './support/payment-records';
import { workerProcessEnv } from './support/worker-process-env';

const MAIN = 'services/payments/dist/main.js';

let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;
const inboxSchema = uniqueName('payproc_in');
const paymentsSchema = uniqueName('payproc_pa');
const processes: ServiceProcess[] = [];

beforeAll(async () => {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'services/payments'], { cwd: ROOT, stdio: 'pipe' });
  db = await createTestSchema('payproc_ob');
  ns = await createTestStream('payproc');
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
}, 120_000);

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop('SIGKILL')));
  await outbox.close();
  for (const schema of [inboxSchema, paymentsSchema]) await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await ns.drop();
  await db.drop();
});

function startWorker(env: Record<string, string>): ServiceProcess {
  const proc = startService(MAIN, {
    ...workerProcessEnv({ outboxSchema: db.schema, inboxSchema, paymentsSchema, stream: ns.stream, subjectPrefix: ns.subjectPrefix }),
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

async function paymentEventTypes(orderId: string): Promise<string[]> {
  return (await paymentEvents(db.pool, db.schema, orderId)).map((e) => e.eventType);
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

  it('kill -9 during a slow gateway call, then restart: exactly one charge, one PaymentStarted and one PaymentSucceeded', async () => {
    const first = startWorker({ FAKE_GATEWAY_LATENCY_MS: '1500', RELAY_INSTANCE_ID: 'payments-a' });
    await consuming(first);
    const { orderId, eventId } = await enqueueOrderCreated(outbox, { amount: 30 });

    // The gateway has charged, its answer is 1.5 s away: the worker dies now, before its transaction commits.
    await waitFor('the charge to be made', async () => (await ledger(orderId))[0]?.charge_id ?? undefined);
    first.child.kill('SIGKILL');
    await first.exited;
    // The start had committed on its own; the success had not.
    expect(await paymentRow(db.pool, paymentsSchema, orderId)).toMatchObject({ status: 'PENDING', charge_id: null, source_event_id: eventId });
    expect(await paymentEventTypes(orderId)).toEqual(['PaymentStarted']);
    const { rows: inboxRows } = await db.pool.query(`SELECT 1 FROM "${inboxSchema}".inbox WHERE event_id = $1`, [eventId]);
    expect(inboxRows).toHaveLength(0);

    const second = startWorker({ FAKE_GATEWAY_LATENCY_MS: '20', RELAY_INSTANCE_ID: 'payments-b', PAYMENTS_HTTP_PORT: '0' });
    const port = await listeningPort(second, 'http listening');
    await consuming(second);
    const payment = await waitFor('the payment to succeed after the redelivery', async () => {
      const row = await paymentRow(db.pool, paymentsSchema, orderId);
      return row?.status === 'SUCCEEDED' ? row : undefined;
    }, 20_000);
    const [charge] = await ledger(orderId);
    expect(await ledger(orderId)).toHaveLength(1);
    expect(charge).toMatchObject({ calls: 2 });
    expect(payment).toEqual({ status: 'SUCCEEDED', charge_id: charge!.charge_id, failure_reason: null, source_event_id: eventId });
    // The redelivery found the payment pending: not announced a second time.
    expect(await paymentEventTypes(orderId)).toEqual(['PaymentStarted', 'PaymentSucceeded']);
    // The worker logs after its commit, and the line reaches this process through a pipe: wait for it, not for the row.
    const paidLine = await waitFor('the payment succeeded log line', () => second.logs.find((l) => l.msg === 'payment succeeded' && l.orderId === orderId), 10_000);
    expect(paidLine).toMatchObject({ service: 'payments', eventId, orderId, attempt: 2, chargeReplayed: true, chargeId: charge!.charge_id });

    // The restarted worker's relay takes over the dead one's lease and publishes the payment's events, once each.
    const published = await waitFor('PaymentSucceeded in the stream', async () => {
      const m = messagesOf(await readStream(ns.nc, ns.stream), 'Payment', orderId);
      return m.some((e) => e.eventType === 'PaymentSucceeded') ? m : undefined;
    }, 20_000);
    expect(published.map((m) => m.eventType)).toEqual(['PaymentStarted', 'PaymentSucceeded']);

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
