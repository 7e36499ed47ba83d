/**
 * /metrics of the subscriber process (dist/main.js, SUBSCRIBER_HTTP_PORT) after real deliveries: processed and
 * terminated events counted per consumer, the HTTP histogram and the process metrics. Builds the package first.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { createTestStream, listeningPort, startService, waitFor, type ServiceProcess, type TestStream, TEST_NATS_URL } from '@outbox-relay/test-support';
import { scrape, valueOf } from '../../telemetry/test/support/scrape';

const root = path.resolve(__dirname, '..', '..', '..');
let ts: TestStream;
let proc: ServiceProcess | undefined;

beforeAll(async () => {
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'services/subscriber'], { cwd: root, stdio: 'pipe' });
  ts = await createTestStream('submetrics');
}, 120_000);
afterAll(async () => {
  await proc?.stop('SIGKILL');
  await ts.drop();
});

async function publish(payload: string): Promise<void> {
  const id = randomUUID();
  const h = natsHeaders();
  h.set('Outbox-Event-Id', id);
  h.set('Outbox-Event-Type', 'OrderCreated');
  h.set('Outbox-Aggregate-Type', 'Order');
  h.set('Outbox-Aggregate-Id', randomUUID());
  await jetstream(ts.nc).publish(`${ts.subjectPrefix}.Order.OrderCreated`, payload, { msgID: id, headers: h });
}

it('counts deliveries by outcome and serves the process metrics', async () => {
  const id = `m-${randomUUID().slice(0, 8)}`;
  proc = startService('services/subscriber/dist/main.js', {
    NATS_URL: TEST_NATS_URL,
    OUTBOX_STREAM: ts.stream,
    OUTBOX_SUBJECT_PREFIX: ts.subjectPrefix,
    SUBSCRIBER_ID: id,
    SUBSCRIBER_HTTP_PORT: '0',
    LOG_LEVEL: 'info',
  });
  const port = await listeningPort(proc, 'Health endpoint listening');
  const base = `http://127.0.0.1:${port}`;
  const consumer = `sub-${id}`;
  // Before any event every outcome is already exposed at 0.
  const empty = await waitFor('/metrics', () => scrape(base), 15_000);
  expect(valueOf(empty, 'subscriber_events_total', { consumer, outcome: 'processed' })).toBe(0);
  expect(valueOf(empty, 'subscriber_events_total', { consumer, outcome: 'failed' })).toBe(0);

  for (let i = 0; i < 3; i++) await publish(JSON.stringify({ orderId: randomUUID(), amount: i + 1 }));
  await publish('{not json');

  const s = await waitFor('4 deliveries counted', async () => {
    const samples = await scrape(base);
    return samples && valueOf(samples, 'subscriber_events_total', { consumer, outcome: 'processed' }) === 3 && valueOf(samples, 'subscriber_events_total', { consumer, outcome: 'terminated' }) === 1 ? samples : undefined;
  });
  expect(valueOf(s, 'subscriber_events_total', { consumer, outcome: 'failed' })).toBe(0);
  expect(valueOf(s, 'http_server_request_duration_seconds_count', { method: 'GET', route: '/metrics', status_code: '200' })).toBeGreaterThanOrEqual(1);
  expect(valueOf(s, 'process_start_time_seconds')).toBeGreaterThan(0);

  expect(await proc.stop('SIGTERM')).toBe(0);
});
