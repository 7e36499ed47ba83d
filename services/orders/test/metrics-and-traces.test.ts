/**
 * The order service as a process (src/main.ts) with its embedded relay, tracing on towards a local OTLP/HTTP
 * receiver: after real traffic, /metrics shows the requests by route template, the published events, an empty
 * backlog and this replica leading; and the receiver got the request span, the order transaction as its child
 * and the relay's `send <subject>` span linked to it, named and attributed by OpenTelemetry's conventions.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { TEST_DATABASE_URL, TEST_NATS_URL, uniqueName, createTestStream, waitFor, type TestStream } from '@outbox-relay/test-support';
import { samplesOf, scrape, valueOf } from '../../telemetry/test/support/scrape';
import { httpJson, OrdersProcess } from './support/service-process';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP's SpanKind: 2 SERVER, 4 PRODUCER. */
  kind: number;
  links?: Array<{ traceId: string; spanId: string }>;
  attributes?: Array<{ key: string; value: { stringValue?: string; intValue?: string | number } }>;
}

/** A span's attributes as plain values (OTLP/JSON writes integers as strings or numbers). */
const attributesOf = (span: OtlpSpan) =>
  Object.fromEntries((span.attributes ?? []).map((a) => [a.key, a.value.stringValue ?? (a.value.intValue === undefined ? undefined : Number(a.value.intValue))]));

const ordersSchema = uniqueName('ometr_or');
const outboxSchema = uniqueName('ometr_ob');
const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
const received: OtlpSpan[] = [];
let receiver: http.Server;
let nats: TestStream;
let proc: OrdersProcess | undefined;

beforeAll(async () => {
  nats = await createTestStream('ometr');
  // A stand-in OTLP/HTTP collector: keeps the spans of every export (JSON encoding).
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const parsed = JSON.parse(body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
        for (const rs of parsed.resourceSpans) for (const ss of rs.scopeSpans) received.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  proc?.kill('SIGKILL');
  await proc?.exited;
  await new Promise((resolve) => receiver.close(resolve));
  await nats.drop();
  await pool.query(`DROP SCHEMA IF EXISTS "${ordersSchema}" CASCADE`);
  await pool.query(`DROP SCHEMA IF EXISTS "${outboxSchema}" CASCADE`);
  await pool.end();
});

it('exposes request, relay and backlog metrics and exports the order trace over OTLP', async () => {
  proc = new OrdersProcess({
    DATABASE_URL: TEST_DATABASE_URL,
    NATS_URL: TEST_NATS_URL,
    OUTBOX_MIGRATE: 'true',
    OUTBOX_SCHEMA: outboxSchema,
    ORDERS_SCHEMA: ordersSchema,
    OUTBOX_STREAM: nats.stream,
    OUTBOX_SUBJECT_PREFIX: nats.subjectPrefix,
    OUTBOX_POLL_MS: '50',
    METRICS_BACKLOG_CACHE_MS: '0',
    PORT: '0',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'orders-under-test',
    OTEL_BSP_SCHEDULE_DELAY: '50',
  });
  const port = (await proc.waitForLog('listening')).port as number;
  expect(proc.logs.find((l) => l.msg === 'tracing on')).toMatchObject({ serviceName: 'orders-under-test' });
  const base = `http://127.0.0.1:${port}`;

  const ORDERS = 5;
  const ids: string[] = [];
  for (let i = 0; i < ORDERS; i++) {
    const created = await httpJson(port, 'POST', '/orders', { customerId: randomUUID(), amount: 10 + i });
    expect(created.status).toBe(201);
    ids.push(created.body.orderId as string);
  }
  expect((await httpJson(port, 'GET', `/orders/${ids[0]}`)).status).toBe(200);
  expect((await httpJson(port, 'GET', `/orders/${randomUUID()}`)).status).toBe(404);
  expect((await httpJson(port, 'GET', '/no/such/path')).status).toBe(404);

  const samples = await waitFor('every event published, the backlog empty', async () => {
    const s = await scrape(base);
    const published = s && samplesOf(s, 'outbox_events_published_total').reduce((n, x) => n + x.value, 0);
    return s && published === ORDERS && valueOf(s, 'outbox_pending_events', { partition: '0' }) === 0 ? s : undefined;
  });
  const requests = (labels: Record<string, string>) => valueOf(samples, 'http_server_request_duration_seconds_count', labels);
  expect(requests({ method: 'POST', route: '/orders', status_code: '201' })).toBe(ORDERS);
  expect(requests({ method: 'GET', route: '/orders/:id', status_code: '200' })).toBe(1);
  expect(requests({ method: 'GET', route: '/orders/:id', status_code: '404' })).toBe(1);
  expect(requests({ method: 'GET', route: 'unmatched', status_code: '404' })).toBe(1);
  // No label carries an order id or a raw path.
  expect(samplesOf(samples, 'http_server_request_duration_seconds_count').every((s) => !/[0-9a-f]{8}-/.test(s.labels.route ?? ''))).toBe(true);
  expect(valueOf(samples, 'outbox_relay_is_leader', { partition: '0' })).toBe(1);
  expect(valueOf(samples, 'outbox_commit_to_ack_seconds_count')).toBe(ORDERS);
  expect(valueOf(samples, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);

  // The traces reached the OTLP receiver: request span → order transaction (child) ← send span (link).
  const subject = `${nats.subjectPrefix}.Order.OrderCreated`;
  const spans = await waitFor('the spans of the first order', () => {
    const transaction = received.find((s) => s.name === 'order transaction');
    const send = transaction && received.find((s) => s.name === `send ${subject}` && s.links?.some((l) => l.spanId === transaction.spanId));
    return transaction && send ? { transaction, send } : undefined;
  });
  const request = received.find((s) => s.spanId === spans.transaction.parentSpanId);
  expect(request).toMatchObject({ name: 'POST /orders', traceId: spans.transaction.traceId, kind: 2 });
  expect(request!.parentSpanId ?? '').toBe('');
  expect(attributesOf(request!)).toMatchObject({
    'http.request.method': 'POST',
    'url.path': '/orders',
    'url.scheme': 'http',
    'server.address': '127.0.0.1',
    'server.port': port,
    'client.address': '127.0.0.1',
    'http.route': '/orders',
    'http.response.status_code': 201,
  });
  expect(spans.send.kind).toBe(4);
  expect(spans.send.links).toContainEqual(expect.objectContaining({ traceId: spans.transaction.traceId, spanId: spans.transaction.spanId }));
  expect(attributesOf(spans.send)).toMatchObject({
    'messaging.system': 'nats',
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'send',
    'messaging.destination.name': subject,
    'messaging.message.id': expect.stringMatching(/^[0-9a-f-]{36}$/),
  });
  // The event row stores the transaction span's context.
  const { rows } = await pool.query<{ traceparent: string }>(`SELECT headers->>'traceparent' AS traceparent FROM "${outboxSchema}".outbox`);
  expect(rows.map((r) => r.traceparent)).toContain(`00-${spans.transaction.traceId}-${spans.transaction.spanId}-01`);

  proc.kill('SIGTERM');
  expect(await proc.exited).toBe(0);
});
