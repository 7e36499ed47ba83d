/**
 * /metrics of the payment worker process (dist/main.js, PAYMENTS_HTTP_PORT) after real traffic: payments that
 * succeed, a replayed OrderCreated (a duplicate), and a payment that fails until it is dead-lettered. The inbox
 * totals, the charges, the embedded relay's published events and the backlog must add up to exactly that.
 * Builds the package first (incremental).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Outbox } from '@outbox-relay/outbox';
import { createTestSchema, type TestSchema, uniqueName, createTestStream, listeningPort, waitFor, type TestStream, ROOT, startService, type ServiceProcess } from '@outbox-relay/test-support';
import { samplesOf, scrape, valueOf, type Sample } from '../../telemetry/test/support/scrape';
import { enqueueOrderCreated } from './support/order-created';
import { workerProcessEnv } from './support/worker-process-env';

let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;
let proc: ServiceProcess | undefined;
const inboxSchema = uniqueName('paymetr_in');
const paymentsSchema = uniqueName('paymetr_pa');

beforeAll(async () => {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'services/payments'], { cwd: ROOT, stdio: 'pipe' });
  db = await createTestSchema('paymetr_ob');
  ns = await createTestStream('paymetr');
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
}, 120_000);

afterAll(async () => {
  await proc?.stop('SIGKILL');
  await outbox.close();
  for (const schema of [inboxSchema, paymentsSchema]) await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await ns.drop();
  await db.drop();
});

const publishOrderCreated = () => enqueueOrderCreated(outbox, { amount: 25 });

const sum = (samples: Sample[], name: string) => samplesOf(samples, name).reduce((n, s) => n + s.value, 0);

it('counts processed, duplicate, failed, retried and dead-lettered events, charges and published events', async () => {
  proc = startService('services/payments/dist/main.js', {
    ...workerProcessEnv({ outboxSchema: db.schema, inboxSchema, paymentsSchema, stream: ns.stream, subjectPrefix: ns.subjectPrefix }),
    PAYMENTS_MAX_RETRIES: '1',
    PAYMENTS_BACKOFF_MIN_MS: '100',
    PAYMENTS_BACKOFF_MAX_MS: '200',
    PAYMENTS_METRICS_INTERVAL_MS: '0',
    PAYMENTS_HTTP_PORT: '0',
    INBOX_RETENTION_INTERVAL_MS: '200',
    FAKE_GATEWAY_LATENCY_MS: '0',
    METRICS_BACKLOG_CACHE_MS: '0',
    LOG_LEVEL: 'info',
  });
  const port = await listeningPort(proc, 'http listening');
  const base = `http://127.0.0.1:${port}`;
  await waitFor('the worker consuming', async () => {
    if (proc!.child.exitCode !== null) throw new Error(`worker exited: ${proc!.stderr()}`);
    return (await fetch(`${base}/readyz`).catch(() => null))?.ok || undefined;
  }, 20_000);

  // Three payments that succeed.
  const paid = [await publishOrderCreated(), await publishOrderCreated(), await publishOrderCreated()];
  await waitFor('3 payments', async () => {
    const s = await scrape(base);
    return s && valueOf(s, 'payments_charges_total', { outcome: 'succeeded' }) === 3 ? s : undefined;
  });
  // A replay of the first OrderCreated: a new outbox row, same Outbox-Event-Id, so the inbox skips it.
  const first = paid[0]!;
  await outbox.transaction((tx) =>
    outbox.enqueue(tx, { id: randomUUID(), aggregateType: 'Order', aggregateId: first.orderId, eventType: 'OrderCreated', payload: { orderId: first.orderId, amount: 25, currency: 'EUR' }, headers: { replayOf: first.eventId } }),
  );
  // One payment whose charges fail: first attempt, one retry, then the dead letter (payment FAILED, PaymentFailed).
  const put = await fetch(`${base}/admin/fake-gateway`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failing: true }) });
  expect(put.status).toBe(200);
  const declined = await publishOrderCreated();

  const consumer = 'payments';
  const s = await waitFor('the duplicate, the dead letter and every event published', async () => {
    const now = await scrape(base);
    return now &&
      valueOf(now, 'inbox_duplicate_events_total', { consumer }) === 1 &&
      valueOf(now, 'inbox_dead_letters_total', { consumer }) === 1 &&
      // 4 OrderCreated + 1 replay + 4 PaymentStarted (one per payment, though the declined one was tried twice)
      // + 3 PaymentSucceeded + 1 PaymentFailed, all through this worker's relay.
      sum(now, 'outbox_events_published_total') === 13 &&
      // The inbox sweeps ran (nothing old enough to delete yet) and said so.
      valueOf(now, 'outbox_retention_deleted_rows_total', { table: 'inbox' }) === 0 &&
      valueOf(now, 'outbox_pending_events', { partition: '0' }) === 0
      ? now
      : undefined;
  }, 20_000);
  expect(valueOf(s, 'inbox_events_processed_total', { consumer })).toBe(3);
  expect(valueOf(s, 'inbox_handler_failures_total', { consumer })).toBe(2);
  expect(valueOf(s, 'inbox_retries_total', { consumer })).toBe(1);
  expect(valueOf(s, 'inbox_infrastructure_errors_total', { consumer })).toBe(0);
  expect(valueOf(s, 'payments_charges_total', { outcome: 'succeeded' })).toBe(3);
  expect(valueOf(s, 'payments_charges_total', { outcome: 'already_paid' })).toBe(0);
  expect(valueOf(s, 'outbox_relay_is_leader', { partition: '0' })).toBe(1);
  expect(valueOf(s, 'outbox_commit_to_ack_seconds_count')).toBe(13);
  expect(valueOf(s, 'http_server_request_duration_seconds_count', { method: 'PUT', route: '/admin/fake-gateway', status_code: '200' })).toBe(1);

  // What the counters say happened is what the payments table holds.
  const { rows } = await db.pool.query(`SELECT order_id AS "orderId", status FROM "${paymentsSchema}".payments`);
  expect(rows).toHaveLength(4);
  expect(rows).toEqual(expect.arrayContaining([...paid.map(({ orderId }) => ({ orderId, status: 'SUCCEEDED' })), { orderId: declined.orderId, status: 'FAILED' }]));

  expect(await proc.stop('SIGTERM')).toBe(0);
});
