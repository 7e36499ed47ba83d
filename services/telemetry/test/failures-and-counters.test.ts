/**
 * The rarer series on real traffic: publish errors and relay dead letters (a stream that refuses large messages),
 * retention deletions; and the mirrored inbox counters and the HTTP histogram on a real server.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { Outbox } from '@outbox-relay/outbox';
import { addProbeRoutes, createLogger, ServiceHttp } from '@outbox-relay/runtime';
import { httpObservers, InboxMetrics, RelayMetrics, ServiceMetrics, type InboxCounts } from '@outbox-relay/telemetry';
import { createTestSchema, createTestStream, waitFor, makeRelay } from '@outbox-relay/test-support';
import { parseMetrics, samplesOf, scrape, valueOf } from './support/scrape';

it('counts permanent publish errors, dead letters and retention deletions', async () => {
  const db = await createTestSchema('telfail');
  const ns = await createTestStream('telfail');
  const outbox = new Outbox({ pool: db.pool, schema: db.schema });
  const jsm = await jetstreamManager(ns.nc);
  await jsm.streams.add({ name: ns.stream, subjects: [`${ns.subjectPrefix}.>`], duplicate_window: nanos(120_000), max_msg_size: 4096 });
  const metrics = new ServiceMetrics({ defaultMetrics: false });
  const relayMetrics = new RelayMetrics(metrics.registry);
  const relay = makeRelay(db, ns, ns.nc, { maxPublishAttempts: 3, retention: { publishedMs: 1000, deadLetterMs: 1000, intervalMs: 50, batchSize: 10 } }, relayMetrics);
  try {
    await outbox.transaction((tx) => outbox.enqueue(tx, { aggregateType: 'Order', aggregateId: 'big', eventType: 'Step', payload: { pad: 'x'.repeat(10_000) } }));
    await outbox.transaction((tx) =>
      outbox.enqueue(tx, Array.from({ length: 20 }, (_, i) => ({ aggregateType: 'Order', aggregateId: `s${i}`, eventType: 'Step', payload: { i } }))),
    );
    await relay.start();
    const samples = await waitFor('the dead letter and the retention of the 20 published events', async () => {
      const s = parseMetrics(await metrics.text());
      const deleted = valueOf(s, 'outbox_retention_deleted_rows_total', { table: 'outbox' }) ?? 0;
      return (valueOf(s, 'outbox_dead_letters_total', { partition: '0' }) === 1 && deleted >= 20) ? s : undefined;
    }, 20_000);
    expect(valueOf(samples, 'outbox_publish_errors_total', { partition: '0', permanent: 'true' })).toBe(3);
    expect(valueOf(samples, 'outbox_events_published_total', { partition: '0' })).toBe(20);
    expect(valueOf(samples, 'outbox_retention_deleted_rows_total', { table: 'outbox' })).toBe(20);
    // Each sweep reports both tables, so the dead-letter table's series exists (nothing resolved: 0 deleted).
    expect(valueOf(samples, 'outbox_retention_deleted_rows_total', { table: 'outbox_dead_letters' })).toBe(0);
  } finally {
    await relay.stop();
    await outbox.close();
    await ns.drop();
    await db.drop();
  }
});

it('mirrors inbox consumer stats per consumer, never going backwards when a consumer restarts', async () => {
  const metrics = new ServiceMetrics({ defaultMetrics: false });
  const inbox = new InboxMetrics(metrics.registry);
  const zero: InboxCounts = { processed: 0, duplicates: 0, failed: 0, retried: 0, deadLettered: 0, infrastructureErrors: 0 };
  let payments: InboxCounts | null = null;
  const audit: InboxCounts = { ...zero, processed: 4, duplicates: 1 };
  inbox.track('payments', () => payments);
  inbox.track('audit', () => audit);

  let s = parseMetrics(await metrics.text());
  expect(samplesOf(s, 'inbox_events_processed_total').map((x) => x.labels.consumer)).toEqual(['audit']);
  payments = { processed: 10, duplicates: 2, failed: 3, retried: 2, deadLettered: 1, infrastructureErrors: 1 };
  s = parseMetrics(await metrics.text());
  expect(valueOf(s, 'inbox_events_processed_total', { consumer: 'payments' })).toBe(10);
  expect(valueOf(s, 'inbox_duplicate_events_total', { consumer: 'payments' })).toBe(2);
  expect(valueOf(s, 'inbox_handler_failures_total', { consumer: 'payments' })).toBe(3);
  expect(valueOf(s, 'inbox_retries_total', { consumer: 'payments' })).toBe(2);
  expect(valueOf(s, 'inbox_dead_letters_total', { consumer: 'payments' })).toBe(1);
  expect(valueOf(s, 'inbox_infrastructure_errors_total', { consumer: 'payments' })).toBe(1);
  expect(valueOf(s, 'inbox_events_processed_total', { consumer: 'audit' })).toBe(4);

  // The consumer restarted in-process and counts from 0 again: the counter keeps growing.
  payments = { ...zero, processed: 3 };
  s = parseMetrics(await metrics.text());
  expect(valueOf(s, 'inbox_events_processed_total', { consumer: 'payments' })).toBe(13);
  expect(valueOf(s, 'inbox_duplicate_events_total', { consumer: 'payments' })).toBe(2);
});

it('records HTTP requests by method, known route and status, and serves /metrics', async () => {
  const metrics = new ServiceMetrics({ defaultMetrics: false });
  const server = new ServiceHttp({ logger: createLogger('test', 'silent'), observers: httpObservers({ metrics: metrics.http, tracing: false }) });
  addProbeRoutes(server, { readiness: () => ({ ready: true }), metrics });
  const base = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}`;
  try {
    await fetch(`${base}/healthz`);
    await fetch(`${base}/healthz?verbose=1`);
    await fetch(`${base}/orders/123e4567-e89b-12d3-a456-426614174000`);
    await fetch(`${base}/healthz`, { method: 'PROPFIND' });
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const s = await scrape(base);
    expect(s).toBeDefined();
    const count = (labels: Record<string, string>) => valueOf(s!, 'http_server_request_duration_seconds_count', labels);
    expect(count({ method: 'GET', route: '/healthz', status_code: '200' })).toBe(2);
    // The path of an unknown route (it carries an id) never becomes a label.
    expect(count({ method: 'GET', route: 'unmatched', status_code: '404' })).toBe(1);
    // A method outside the known set is counted as OTHER (and answered 404: this server has no such route).
    expect(count({ method: 'OTHER', route: 'unmatched', status_code: '404' })).toBe(1);
    expect(count({ method: 'GET', route: '/metrics', status_code: '200' })).toBe(1);
    expect(samplesOf(s!, 'http_server_request_duration_seconds_bucket', { route: '/healthz', method: 'GET', le: '0.001' })).toHaveLength(1);
  } finally {
    await server.close(0);
  }
});
