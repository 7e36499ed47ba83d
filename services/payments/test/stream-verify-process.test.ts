/**
 * The worker as a process with OUTBOX_STREAM_MANAGEMENT=verify and no stream: exit status 2 and one plain line,
 * like a bad variable, instead of a stack trace; no stream created.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { createTestSchema, createTestStream, startService, uniqueName, type TestSchema, type TestStream } from '@outbox-relay/test-support';
import { parseEnv } from '@outbox-relay/runtime';
import { paymentsEnvSchema, paymentWorkerSettings } from '@outbox-relay/payments';
import { workerProcessEnv } from './support/worker-process-env';

let db: TestSchema;
let ns: TestStream;
const inboxSchema = uniqueName('payverify_in');
const paymentsSchema = uniqueName('payverify_pa');

beforeAll(async () => {
  db = await createTestSchema('payverify_ob');
  ns = await createTestStream('payverify');
});
afterAll(async () => {
  for (const schema of [inboxSchema, paymentsSchema]) await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await ns.drop();
  await db.drop();
});

it('exits 2 with one line naming the missing stream', async () => {
  const proc = startService('services/payments/dist/main.js', {
    ...workerProcessEnv({ outboxSchema: db.schema, inboxSchema, paymentsSchema, stream: ns.stream, subjectPrefix: ns.subjectPrefix }),
    OUTBOX_STREAM_MANAGEMENT: 'verify',
    PAYMENTS_METRICS_INTERVAL_MS: '0',
    LOG_LEVEL: 'info',
  });
  expect(await proc.exited).toBe(2);
  expect(proc.stderr()).toMatch(/^payments: stream "[A-Z0-9_-]+" does not fit the relay \(OUTBOX_STREAM\): .* found no such stream\n$/);
  expect(await (await jetstreamManager(ns.nc)).streams.names().next()).not.toContain(ns.stream);
});

it('passes the stream settings from its environment to its consumer\'s check, with the window its relay needs', () => {
  const env = parseEnv(paymentsEnvSchema, {
    DATABASE_URL: 'postgres://u@127.0.0.1/db',
    OUTBOX_STREAM_MANAGEMENT: 'verify',
    OUTBOX_STREAM_REPLICAS: '3',
    OUTBOX_LEASE_MS: '3000',
    OUTBOX_DUPLICATE_WINDOW_MS: '30000',
  });
  expect(paymentWorkerSettings(env).streamOwnership).toEqual({ management: 'verify', limits: { replicas: 3 }, minDuplicateWindowMs: 30_000 });
});
