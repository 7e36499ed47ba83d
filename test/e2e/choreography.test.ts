/**
 * Orders and payments share no code and no tables, only events. This file checks the contract from both sides
 * (what one emits, the other reads with its own schema) and the path on real servers: an order whose payment
 * cannot be taken ends FAILED, moved by the order service itself on hearing PaymentStarted and PaymentFailed,
 * while the worker's record of the payment is its own.
 */
import { randomUUID } from 'node:crypto';
import type { InboxWorker } from '@outbox-relay/inbox';
import { Outbox, type OutboxRelay } from '@outbox-relay/outbox';
import {
  createOrdersHttp,
  migrateOrders,
  orderCreatedEvent,
  PAYMENT_EVENT_TYPES,
  PAYMENT_EVENTS_AGGREGATE,
  paymentEventPayloadSchema,
  startPaymentEventsConsumer,
  type Order,
} from '@outbox-relay/orders';
import {
  FakePaymentGateway,
  migratePayments,
  ORDER_CREATED_EVENT,
  ORDER_EVENTS_AGGREGATE,
  orderCreatedPayloadSchema,
  paymentFailedEvent,
  paymentStartedEvent,
  paymentSucceededEvent,
  startPaymentWorker,
  type PaymentWorker,
} from '@outbox-relay/payments';
import type { ServiceHttp } from '@outbox-relay/runtime';
import { createTestSchema, createTestStream, makeRelay, quietLogger, uniqueName, waitFor, type TestSchema, type TestStream } from '@outbox-relay/test-support';

describe('the contract', () => {
  const order: Order = {
    id: randomUUID(),
    customerId: randomUUID(),
    amount: 19.99,
    currency: 'EUR',
    state: 'CREATED',
    version: 1,
    createdAt: new Date(),
    updatedAt: new Date(),
  };
  const cause = { eventId: randomUUID(), correlationId: 'c-1', traceparent: undefined };

  it("the order service's OrderCreated is what the payment worker subscribes to and can read", () => {
    const event = orderCreatedEvent(order);
    expect([event.aggregateType, event.eventType]).toEqual([ORDER_EVENTS_AGGREGATE, ORDER_CREATED_EVENT]);
    expect(orderCreatedPayloadSchema.parse(event.payload)).toEqual({ orderId: order.id, amount: 19.99, currency: 'EUR' });
  });

  it("the payment worker's events are what the order service subscribes to and can read, about the right order", () => {
    const toPay = { orderId: order.id, amount: 19.99, currency: 'EUR' };
    const events = [paymentStartedEvent(toPay, cause), paymentSucceededEvent(toPay, 'ch-1', cause), paymentFailedEvent(toPay, 'declined', cause)];
    expect(events.map((e) => e.eventType)).toEqual([...PAYMENT_EVENT_TYPES]);
    for (const event of events) {
      expect(event.aggregateType).toBe(PAYMENT_EVENTS_AGGREGATE);
      expect(event.aggregateId).toBe(order.id);
      expect(paymentEventPayloadSchema.parse(event.payload)).toEqual({ orderId: order.id });
    }
  });
});

describe('on real servers', () => {
  let db: TestSchema;
  let ns: TestStream;
  let relay: OutboxRelay;
  let outbox: Outbox;
  let orders: ServiceHttp;
  let base: string;
  let worker: PaymentWorker;
  let paymentEvents: InboxWorker;
  const ordersSchema = uniqueName('chor_or');
  const inboxSchema = uniqueName('chor_in');
  const paymentsSchema = uniqueName('chor_pa');

  beforeAll(async () => {
    db = await createTestSchema('chor_ob', { max: 20 });
    ns = await createTestStream('chor');
    const { pool } = db;
    await migrateOrders({ pool, schema: ordersSchema, outboxSchema: db.schema });
    await migratePayments({ pool, outboxSchema: db.schema, inboxSchema, paymentsSchema, fakeGateway: true });
    outbox = new Outbox({ pool, schema: db.schema });
    orders = createOrdersHttp({ pool, outbox, ordersSchema, logger: quietLogger, isReady: () => true });
    base = `http://127.0.0.1:${await orders.listen(0, '127.0.0.1')}`;
    relay = makeRelay(db, ns, ns.nc);
    await relay.start();
    // Every charge is declined: the worker gives the payment up after its one retry.
    const gateway = new FakePaymentGateway({ pool, schema: paymentsSchema, settings: { successRate: 1, latencyMs: 0, failing: true } });
    worker = await startPaymentWorker(
      { pool, nc: ns.nc, gateway, logger: quietLogger },
      {
        inboxSchema,
        paymentsSchema,
        outboxSchema: db.schema,
        maxPayloadBytes: 512 * 1024,
        stream: ns.stream,
        subjectPrefix: ns.subjectPrefix,
        duplicateWindowMs: 120_000,
        consumerName: 'payments',
        maxRetries: 1,
        backoff: { minMs: 50, maxMs: 100 },
        ackWaitMs: 30_000,
        maxAckPending: 100,
        concurrency: 1,
        inboxRetention: { processedMs: 86_400_000, deadLetterMs: 86_400_000, intervalMs: 60_000 },
      },
    );
    paymentEvents = await startPaymentEventsConsumer(
      { pool, nc: ns.nc, logger: quietLogger },
      { ordersSchema, stream: ns.stream, subjectPrefix: ns.subjectPrefix, duplicateWindowMs: 120_000, consumerName: 'orders-payments' },
    );
  }, 60_000);

  afterAll(async () => {
    await paymentEvents?.stop();
    await worker?.stop();
    await relay?.stop();
    await orders?.close(5000);
    await outbox?.close();
    for (const schema of [ordersSchema, inboxSchema, paymentsSchema]) await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await ns?.drop();
    await db?.drop();
  });

  it('an order whose payment cannot be taken ends FAILED, moved by the order service; the payment record is the worker’s', async () => {
    const res = await fetch(`${base}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customerId: randomUUID(), amount: 7 }),
    });
    expect(res.status).toBe(201);
    const { orderId } = (await res.json()) as { orderId: string };
    const failed = await waitFor('the order FAILED', async () => {
      const order = (await (await fetch(`${base}/orders/${orderId}`)).json()) as { state: string; version: number };
      return order.state === 'FAILED' ? order : undefined;
    });
    // CREATED (1) → PAYMENT_PENDING (2, on PaymentStarted) → FAILED (3, on PaymentFailed).
    expect(failed.version).toBe(3);
    const { rows: payments } = await db.pool.query(`SELECT status, failure_reason FROM "${paymentsSchema}".payments WHERE order_id = $1`, [orderId]);
    expect(payments).toEqual([{ status: 'FAILED', failure_reason: expect.any(String) }]);
    // The order service took each payment event once, through its own inbox in its own schema.
    const { rows: inbox } = await db.pool.query(
      `SELECT i.event_id FROM "${ordersSchema}".inbox i JOIN "${db.schema}".outbox o ON o.id::text = i.event_id
        WHERE o.aggregate_id = $1 ORDER BY o.seq`,
      [orderId],
    );
    expect(inbox).toHaveLength(2);
  });
});
