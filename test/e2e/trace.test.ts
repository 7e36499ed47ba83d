/**
 * One trace from POST /orders to the subscriber and the payment worker, with everything in-process and real
 * (the HTTP handler of @outbox-relay/orders, Postgres, the relay, JetStream, a subscriber, the payment worker) and the
 * OpenTelemetry SDK exporting to memory:
 *   POST /orders (SERVER) → order transaction → outbox row's traceparent → relay publish span (own trace, LINKED)
 *   → NATS headers → subscriber and payment worker processing spans (children of the order transaction)
 *   → PaymentSucceeded carries the same trace on → the subscriber's span for it, and the order service's (which
 *   moves the order to PAID), are children of the payment's.
 */
import { randomUUID } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
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
  expect(request.attributes['http.route']).toBe('/orders');
  expect(request.attributes['http.response.status_code']).toBe(201);
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

  // The relay's publish span: a producer span of its own trace, linked to the order transaction.
  const publish = spans().find((s) => s.kind === SpanKind.PRODUCER && s.links.some((l) => l.context.spanId === transaction.spanContext().spanId))!;
  expect(publish.name).toBe(`${ns.stream} publish`);
  expect(publish.links).toContainEqual(expect.objectContaining({ context: expect.objectContaining({ traceId, spanId: transaction.spanContext().spanId }) }));

  // Both consumers process OrderCreated in a CONSUMER span that is a child of the order transaction.
  const consumed = await waitFor('the spans of PaymentSucceeded at the subscriber and the order service', () => {
    const inTrace = spans().filter((s) => s.spanContext().traceId === traceId && s.kind === SpanKind.CONSUMER);
    const subscriberCreated = inTrace.find((s) => scopeOf(s) === '@outbox-relay/subscriber' && s.name === 'OrderCreated process');
    const payment = inTrace.find((s) => scopeOf(s) === '@outbox-relay/inbox' && s.name === 'OrderCreated process');
    const subscriberSucceeded = inTrace.find((s) => scopeOf(s) === '@outbox-relay/subscriber' && s.name === 'PaymentSucceeded process');
    const ordersSucceeded = inTrace.find((s) => scopeOf(s) === '@outbox-relay/inbox' && s.name === 'PaymentSucceeded process');
    return subscriberCreated && payment && subscriberSucceeded && ordersSucceeded ? { subscriberCreated, payment, subscriberSucceeded, ordersSucceeded } : undefined;
  });
  expect(parentOf(consumed.subscriberCreated)).toBe(transaction.spanContext().spanId);
  expect(parentOf(consumed.payment)).toBe(transaction.spanContext().spanId);
  expect(consumed.payment.attributes['outbox.outcome']).toBe('processed');
  expect(consumed.payment.attributes['messaging.message.id']).toBe(created.headers['Outbox-Event-Id']);

  // The payment worker's PaymentSucceeded carries the same trace on, with the payment's span as parent ...
  expect(succeeded.headers.traceparent).toBe(traceparentOf(consumed.payment));
  // ... is published in a span linked to it, and processed by the subscriber as its child.
  expect(spans().some((s) => s.kind === SpanKind.PRODUCER && s.links.some((l) => l.context.spanId === consumed.payment.spanContext().spanId))).toBe(true);
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

it("continues the caller's trace when the request carries a traceparent", async () => {
  const clientTrace = randomUUID().replace(/-/g, '');
  const clientSpan = randomUUID().replace(/-/g, '').slice(0, 16);
  const orderId = await postOrder({ traceparent: `00-${clientTrace}-${clientSpan}-01` });
  const { created, succeeded } = await orderMessages(orderId);

  const transaction = exporter.getFinishedSpans().find((s) => s.name === 'order transaction' && s.attributes['order.id'] === orderId)!;
  const request = exporter.getFinishedSpans().find((s) => s.spanContext().spanId === parentOf(transaction))!;
  expect(request.name).toBe('POST /orders');
  expect(request.spanContext().traceId).toBe(clientTrace);
  expect(parentOf(request)).toBe(clientSpan);
  // The event carries the transaction's context (a descendant of the caller's span), not the caller's own.
  expect(created.headers.traceparent).toBe(traceparentOf(transaction));
  expect(succeeded.headers.traceparent?.split('-')[1]).toBe(clientTrace);
});
