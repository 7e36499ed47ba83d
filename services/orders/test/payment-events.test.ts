/**
 * The order service follows the payment worker's events: each moves its order exactly once, through the service's
 * own inbox, along the lifecycle's edges (PAYMENT_PENDING → PAID | FAILED); PAID is final. The events are written
 * through a real outbox, relayed to a real stream and consumed by the service's real consumer.
 */
import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { headers } from '@nats-io/nats-core';
import { OutboxHeaders, withTransaction, type OutboxEventInput, type OutboxRelay } from '@outbox-relay/outbox';
import type { InboxWorker } from '@outbox-relay/inbox';
import { OrderRepository, startPaymentEventsConsumer, statesAfterPaymentEvent, ORDER_STATES, PAYMENT_EVENT_TYPES, canTransition } from '@outbox-relay/orders';
import { createTestStream, makeRelay, quietLogger, uniqueName, waitFor, type TestStream } from '@outbox-relay/test-support';
import { createOrdersTestDb, type OrdersTestDb } from './support/orders-db';

describe('statesAfterPaymentEvent', () => {
  it('only ever walks edges of the lifecycle, and never leaves PAID', () => {
    for (const from of ORDER_STATES) {
      for (const event of PAYMENT_EVENT_TYPES) {
        const steps = statesAfterPaymentEvent(from, event);
        let at = from;
        for (const to of steps) {
          expect([at, to, canTransition(at, to)]).toEqual([at, to, true]);
          at = to;
        }
        if (from === 'PAID') expect(steps).toEqual([]);
      }
    }
    expect(statesAfterPaymentEvent('CREATED', 'PaymentSucceeded')).toEqual(['PAYMENT_PENDING', 'PAID']);
    expect(statesAfterPaymentEvent('FAILED', 'PaymentStarted')).toEqual(['PAYMENT_PENDING']);
    expect(statesAfterPaymentEvent('PAYMENT_PENDING', 'PaymentFailed')).toEqual(['FAILED']);
  });
});

describe('the payment events consumer', () => {
  let db: OrdersTestDb;
  let ns: TestStream;
  let relay: OutboxRelay;
  let consumer: InboxWorker;
  let orders: OrderRepository;

  beforeAll(async () => {
    db = await createOrdersTestDb('payev');
    ns = await createTestStream('payev');
    orders = new OrderRepository(db.ordersSchema);
    relay = makeRelay({ pool: db.pool, schema: db.outboxSchema, drop: async () => undefined }, ns, ns.nc);
    await relay.start();
    consumer = await startPaymentEventsConsumer(
      { pool: db.pool, nc: ns.nc, logger: quietLogger },
      { ordersSchema: db.ordersSchema, stream: ns.stream, subjectPrefix: ns.subjectPrefix, duplicateWindowMs: 120_000, consumerName: uniqueName('ordpay') },
    );
  });
  afterAll(async () => {
    await consumer?.stop();
    await relay?.stop();
    await ns?.drop();
    await db?.drop();
  });

  const newOrder = () => orders.insert(db.pool, { id: randomUUID(), customerId: randomUUID(), amount: 12.5, currency: 'EUR' });
  const paymentEvent = (orderId: string, eventType: string, id = randomUUID()): OutboxEventInput => ({
    id,
    aggregateType: 'Payment',
    aggregateId: orderId,
    eventType,
    payload: { orderId, amount: 12.5, currency: 'EUR' },
  });
  const emit = async (...events: OutboxEventInput[]) => {
    await withTransaction(db.pool, (tx) => db.outbox.enqueue(tx, events));
    db.outbox.wake();
  };
  const stateOf = async (orderId: string) => {
    const order = await orders.findById(db.pool, orderId);
    return order && { state: order.state, version: order.version };
  };
  const processed = () => consumer.stats().processed;

  it('moves an order through PAYMENT_PENDING to PAID, one version per step', async () => {
    const order = await newOrder();
    await emit(paymentEvent(order.id, 'PaymentStarted'));
    await waitFor('order PAYMENT_PENDING', async () => (await stateOf(order.id))?.state === 'PAYMENT_PENDING');
    expect(await stateOf(order.id)).toEqual({ state: 'PAYMENT_PENDING', version: 2 });
    await emit(paymentEvent(order.id, 'PaymentSucceeded'));
    await waitFor('order PAID', async () => (await stateOf(order.id))?.state === 'PAID');
    expect(await stateOf(order.id)).toEqual({ state: 'PAID', version: 3 });
  });

  it('moves each event once: a redelivered copy (same event id, past the stream dedup) changes nothing', async () => {
    const order = await newOrder();
    const started = paymentEvent(order.id, 'PaymentStarted');
    await emit(started);
    await waitFor('order PAYMENT_PENDING', async () => (await stateOf(order.id))?.state === 'PAYMENT_PENDING');
    const duplicatesBefore = consumer.stats().duplicates;
    // The same event published again under another message id, as after a relay replay: the inbox drops it.
    const h = headers();
    h.set(OutboxHeaders.eventId, started.id!);
    h.set(OutboxHeaders.eventType, 'PaymentStarted');
    h.set(OutboxHeaders.aggregateType, 'Payment');
    h.set(OutboxHeaders.aggregateId, order.id);
    await jetstream(ns.nc).publish(`${ns.subjectPrefix}.Payment.PaymentStarted`, JSON.stringify(started.payload), { headers: h, msgID: randomUUID() });
    await waitFor('the copy dropped as a duplicate', () => consumer.stats().duplicates > duplicatesBefore);
    expect(await stateOf(order.id)).toEqual({ state: 'PAYMENT_PENDING', version: 2 });
  });

  it('takes an outcome heard before its start through PAYMENT_PENDING, and leaves a PAID order PAID whatever comes late', async () => {
    const failedFirst = await newOrder();
    await emit(paymentEvent(failedFirst.id, 'PaymentFailed'));
    await waitFor('failedFirst FAILED', async () => (await stateOf(failedFirst.id))?.state === 'FAILED');
    expect(await stateOf(failedFirst.id)).toEqual({ state: 'FAILED', version: 3 });

    const paid = await newOrder();
    await emit(paymentEvent(paid.id, 'PaymentSucceeded'));
    await waitFor('paid PAID', async () => (await stateOf(paid.id))?.state === 'PAID');
    const before = processed();
    await emit(paymentEvent(paid.id, 'PaymentFailed'), paymentEvent(paid.id, 'PaymentStarted'));
    await waitFor('both late events processed', () => processed() >= before + 2);
    expect(await stateOf(paid.id)).toEqual({ state: 'PAID', version: 3 });
  });

  it('restarts a FAILED order when its payment is replayed, and pays it', async () => {
    const order = await newOrder();
    await emit(paymentEvent(order.id, 'PaymentStarted'), paymentEvent(order.id, 'PaymentFailed'));
    await waitFor('order FAILED', async () => (await stateOf(order.id))?.state === 'FAILED');
    await emit(paymentEvent(order.id, 'PaymentStarted'), paymentEvent(order.id, 'PaymentSucceeded'));
    await waitFor('order PAID', async () => (await stateOf(order.id))?.state === 'PAID');
    expect(await stateOf(order.id)).toEqual({ state: 'PAID', version: 5 });
  });

  it('dead-letters an event for an order that does not exist, and goes on with the next', async () => {
    const deadBefore = consumer.stats().deadLettered;
    await emit(paymentEvent(randomUUID(), 'PaymentSucceeded'));
    await waitFor('the event dead-lettered', () => consumer.stats().deadLettered > deadBefore);
    const order = await newOrder();
    await emit(paymentEvent(order.id, 'PaymentSucceeded'));
    await waitFor('order PAID', async () => (await stateOf(order.id))?.state === 'PAID');
    const { rows } = await db.pool.query(`SELECT reason FROM "${db.ordersSchema}".inbox_dead_letters WHERE consumer = $1`, [consumer.consumerName]);
    expect(rows.map((r: { reason: string }) => r.reason)).toEqual([expect.stringContaining('does not exist')]);
  });
});
