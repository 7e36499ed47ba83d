/**
 * Orders and payments share no code and no tables, only events. This file checks the contract from both sides
 * (what one emits, the other reads with its own schema) and the path on real servers: an order whose payment
 * cannot be taken ends FAILED, moved by the order service itself on hearing PaymentStarted and PaymentFailed,
 * while the worker's record of the payment is its own.
 */
import { randomUUID } from 'node:crypto';
import { orderCreatedEvent, PAYMENT_EVENT_TYPES, PAYMENT_EVENTS_AGGREGATE, paymentEventPayloadSchema, type Order } from '@outbox-relay/orders';
import {
  ORDER_CREATED_EVENT,
  ORDER_EVENTS_AGGREGATE,
  orderCreatedPayloadSchema,
  paymentFailedEvent,
  paymentStartedEvent,
  paymentSucceededEvent,
} from '@outbox-relay/payments';
import { waitFor } from '@outbox-relay/test-support';
import { startOrderSystem, type OrderSystem } from './support/order-system';

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
  let system: OrderSystem;
  beforeAll(async () => {
    // Every charge is declined: the worker gives the payment up after its one retry.
    system = await startOrderSystem('chor', { gateway: { successRate: 1, latencyMs: 0, failing: true }, maxRetries: 1 });
  }, 60_000);
  afterAll(async () => {
    await system?.stop();
  });

  it('an order whose payment cannot be taken ends FAILED, moved by the order service; the payment record is the worker’s', async () => {
    const { base, db, paymentsSchema, ordersSchema } = system;
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
