/**
 * One trace from POST /orders to the subscriber and the payment worker, with everything in-process and real
 * (the HTTP handler of @outbox-relay/orders, Postgres, the relay, JetStream, a subscriber, the payment worker) and the
 * OpenTelemetry SDK exporting to memory:
 *   POST /orders (SERVER) → order transaction → outbox row's traceparent → the relay's `send <subject>` span
 *   (PRODUCER, own trace, LINKED) → NATS headers → subscriber and payment worker `process <subject>` spans
 *   (CONSUMER, children of the order transaction)
 *   → PaymentSucceeded carries the same trace on → the subscriber's span for it, and the order service's (which
 *   moves the order to PAID), are children of the payment's.
 * Names and attributes follow OpenTelemetry's semantic conventions (HTTP; messaging, NATS); W3C baggage sent with the
 * request travels the same way.
 */
import { randomUUID } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import {
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
} from '@opentelemetry/semantic-conventions/incubating';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { startSubscriber, type Subscriber } from '@outbox-relay/subscriber';
import { httpObservers, startTracing, type Tracing } from '@outbox-relay/telemetry';
import { readStream, waitFor, quietLogger, type StoredMessage, type TestSchema, type TestStream } from '@outbox-relay/test-support';
import { startOrderSystem, type OrderSystem } from './support/order-system';

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let system: OrderSystem;
let subscriber: Subscriber;
let db: TestSchema;
let ns: TestStream;
let base: string;

beforeAll(async () => {
  tracing = startTracing({ enabled: true, reason: 'test', serviceName: 'e2e' }, { spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  system = await startOrderSystem('e2etr', { gateway: { successRate: 1, latencyMs: 0, failing: false }, maxRetries: 3, observers: httpObservers({ tracing: true }) });
  ({ db, ns, base } = system);
  subscriber = await startSubscriber({ nc: ns.nc, stream: ns.stream, subjectPrefix: ns.subjectPrefix, subscriberId: 'audit', logger: quietLogger });
}, 60_000);

afterAll(async () => {
  await subscriber?.stop();
  await system?.stop();
  await tracing.shutdown();
});

/** The messaging attributes of a span about one message (semantic-conventions' names, NATS). */
const messaging = (operation: 'send' | 'process', subject: string, messageId: string) => ({
  [ATTR_MESSAGING_SYSTEM]: 'nats',
  [ATTR_MESSAGING_OPERATION_TYPE]: operation,
  [ATTR_MESSAGING_OPERATION_NAME]: operation,
  [ATTR_MESSAGING_DESTINATION_NAME]: subject,
  [ATTR_MESSAGING_MESSAGE_ID]: messageId,
});
const traceparentOf = (span: ReadableSpan) => `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const scopeOf = (span: ReadableSpan) => span.instrumentationScope.name;

async function postOrder(headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${base}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ customerId: randomUUID(), amount: 42 }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { orderId: string }).orderId;
}

/** The order's OrderCreated and PaymentSucceeded messages, once both are in the stream. */
function orderMessages(orderId: string): Promise<{ created: StoredMessage; succeeded: StoredMessage }> {
  return waitFor('OrderCreated and PaymentSucceeded in the stream', async () => {
    const messages = (await readStream(ns.nc, ns.stream).catch(() => [])).filter((m) => m.aggregateId === orderId);
    const created = messages.find((m) => m.eventType === 'OrderCreated');
    const succeeded = messages.find((m) => m.eventType === 'PaymentSucceeded');
    return created && succeeded ? { created, succeeded } : undefined;
  }, 20_000);
}

it('follows one order in one trace from the HTTP request through the relay to the subscriber and the payment worker', async () => {
  const orderId = await postOrder();
  const { created, succeeded } = await orderMessages(orderId);

  // HTTP request span: the root of the trace (the client sent no traceparent).
  const spans = () => exporter.getFinishedSpans();
  const request = spans().find((s) => s.name === 'POST /orders' && s.kind === SpanKind.SERVER)!;
  expect(request).toBeDefined();
  expect(parentOf(request)).toBeUndefined();
  expect(request.attributes).toMatchObject({
    [ATTR_HTTP_REQUEST_METHOD]: 'POST',
    [ATTR_URL_PATH]: '/orders',
    [ATTR_URL_SCHEME]: 'http',
    [ATTR_SERVER_ADDRESS]: '127.0.0.1',
    [ATTR_SERVER_PORT]: Number(new URL(base).port),
    [ATTR_CLIENT_ADDRESS]: '127.0.0.1',
    [ATTR_HTTP_ROUTE]: '/orders',
    [ATTR_HTTP_RESPONSE_STATUS_CODE]: 201,
  });
  const traceId = request.spanContext().traceId;

  // The order transaction: a child of the request span, and what the outbox row and the message carry.
  const transaction = spans().find((s) => s.name === 'order transaction' && s.attributes['order.id'] === orderId)!;
  expect(transaction.spanContext().traceId).toBe(traceId);
  expect(parentOf(transaction)).toBe(request.spanContext().spanId);
  const { rows } = await db.pool.query<{ traceparent: string }>(
    `SELECT headers->>'traceparent' AS traceparent FROM "${db.schema}".outbox WHERE aggregate_id = $1 AND event_type = 'OrderCreated'`,
    [orderId],
  );
  expect(rows).toEqual([{ traceparent: traceparentOf(transaction) }]);
  expect(created.headers.traceparent).toBe(traceparentOf(transaction));

  // The relay's send span: a PRODUCER span per message, the root of its own trace, linked to the order transaction.
  const createdSubject = `${ns.subjectPrefix}.Order.OrderCreated`;
  const send = spans().find((s) => s.kind === SpanKind.PRODUCER && s.links.some((l) => l.context.spanId === transaction.spanContext().spanId))!;
  expect(send.name).toBe(`send ${createdSubject}`);
  expect(parentOf(send)).toBeUndefined();
  expect(send.attributes).toMatchObject(messaging('send', createdSubject, created.headers['Outbox-Event-Id']!));
  expect(send.links).toEqual([expect.objectContaining({ context: expect.objectContaining({ traceId, spanId: transaction.spanContext().spanId }) })]);

  // Both consumers process OrderCreated in a CONSUMER span that is a child of the order transaction.
  const succeededSubject = `${ns.subjectPrefix}.Payment.PaymentSucceeded`;
  const consumed = await waitFor('the spans of PaymentSucceeded at the subscriber and the order service', () => {
    const inTrace = spans().filter((s) => s.spanContext().traceId === traceId && s.kind === SpanKind.CONSUMER);
    const subscriberCreated = inTrace.find((s) => scopeOf(s) === '@outbox-relay/subscriber' && s.name === `process ${createdSubject}`);
    const payment = inTrace.find((s) => scopeOf(s) === '@outbox-relay/inbox' && s.name === `process ${createdSubject}`);
    const subscriberSucceeded = inTrace.find((s) => scopeOf(s) === '@outbox-relay/subscriber' && s.name === `process ${succeededSubject}`);
    const ordersSucceeded = inTrace.find((s) => scopeOf(s) === '@outbox-relay/inbox' && s.name === `process ${succeededSubject}`);
    return subscriberCreated && payment && subscriberSucceeded && ordersSucceeded ? { subscriberCreated, payment, subscriberSucceeded, ordersSucceeded } : undefined;
  });
  expect(parentOf(consumed.subscriberCreated)).toBe(transaction.spanContext().spanId);
  expect(parentOf(consumed.payment)).toBe(transaction.spanContext().spanId);
  expect(consumed.payment.attributes['outbox.outcome']).toBe('processed');
  expect(consumed.payment.attributes).toMatchObject(messaging('process', createdSubject, created.headers['Outbox-Event-Id']!));
  expect(consumed.subscriberCreated.attributes).toMatchObject({
    ...messaging('process', createdSubject, created.headers['Outbox-Event-Id']!),
    [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: 'sub-audit',
  });
  expect(consumed.subscriberSucceeded.attributes).toMatchObject(messaging('process', succeededSubject, succeeded.headers['Outbox-Event-Id']!));

  // The payment worker's PaymentSucceeded carries the same trace on, with the payment's span as parent ...
  expect(succeeded.headers.traceparent).toBe(traceparentOf(consumed.payment));
  // ... is sent in a span linked to it, and processed by the subscriber as its child.
  const sentSucceeded = spans().filter((s) => s.kind === SpanKind.PRODUCER && s.links.some((l) => l.context.spanId === consumed.payment.spanContext().spanId));
  expect(sentSucceeded.map((s) => s.name)).toContain(`send ${succeededSubject}`);
  expect(parentOf(consumed.subscriberSucceeded)).toBe(consumed.payment.spanContext().spanId);
  // The order service consumes it through its own inbox, in the same trace, and moves its order to PAID.
  expect(parentOf(consumed.ordersSucceeded)).toBe(consumed.payment.spanContext().spanId);
  expect(consumed.ordersSucceeded.attributes['outbox.outcome']).toBe('processed');
  const order = (await (await fetch(`${base}/orders/${orderId}`)).json()) as { state: string; version: number };
  expect(order).toMatchObject({ state: 'PAID', version: 3 });

  // One tree: every span of the trace hangs off another span of it, up to the request.
  const inTrace = spans().filter((s) => s.spanContext().traceId === traceId);
  const ids = new Set(inTrace.map((s) => s.spanContext().spanId));
  for (const span of inTrace) if (span !== request) expect(ids.has(parentOf(span) ?? '')).toBe(true);
  // The relay's own publish spans are not part of it (they only link to it).
  expect(inTrace.some((s) => s.kind === SpanKind.PRODUCER)).toBe(false);
});

it("continues the caller's trace and carries its baggage when the request has a traceparent and a baggage", async () => {
  const clientTrace = randomUUID().replace(/-/g, '');
  const clientSpan = randomUUID().replace(/-/g, '').slice(0, 16);
  const orderId = await postOrder({ traceparent: `00-${clientTrace}-${clientSpan}-01`, baggage: 'tenant=acme,plan=gold' });
  const { created, succeeded } = await orderMessages(orderId);

  const transaction = exporter.getFinishedSpans().find((s) => s.name === 'order transaction' && s.attributes['order.id'] === orderId)!;
  const request = exporter.getFinishedSpans().find((s) => s.spanContext().spanId === parentOf(transaction))!;
  expect(request.name).toBe('POST /orders');
  expect(request.spanContext().traceId).toBe(clientTrace);
  expect(parentOf(request)).toBe(clientSpan);
  // The event carries the transaction's context (a descendant of the caller's span), not the caller's own.
  expect(created.headers.traceparent).toBe(traceparentOf(transaction));
  expect(succeeded.headers.traceparent?.split('-')[1]).toBe(clientTrace);
  // W3C baggage: read from the request into the order transaction's context, stored with OrderCreated, copied into
  // the message by the relay, extracted by the payment worker's consumer and written with its PaymentSucceeded.
  expect(created.headers.baggage).toBe('tenant=acme,plan=gold');
  expect(succeeded.headers.baggage).toBe('tenant=acme,plan=gold');
});

it('names a request with no matching route after its method alone, and an unknown method HTTP', async () => {
  const spans = () => exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
  expect((await fetch(`${base}/no/such/path`)).status).toBe(404);
  const unknown = await fetch(`${base}/orders`, { method: 'PROPFIND' });
  expect(unknown.status).toBeGreaterThanOrEqual(400);
  const unmatched = await waitFor('the span of GET /no/such/path', () => spans().find((s) => s.attributes[ATTR_URL_PATH] === '/no/such/path'));
  expect(unmatched.name).toBe('GET');
  expect(unmatched.attributes[ATTR_HTTP_ROUTE]).toBeUndefined();
  const other = await waitFor('the span of PROPFIND /orders', () => spans().find((s) => s.attributes['http.request.method_original'] === 'PROPFIND'));
  expect(other.name.split(' ')[0]).toBe('HTTP');
  expect(other.attributes[ATTR_HTTP_REQUEST_METHOD]).toBe('_OTHER');
});
