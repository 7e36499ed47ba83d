import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { activeTraceHeaders, type EventHeaders, type OutboxEventInput } from '@outbox-relay/outbox';

/**
 * What the worker subscribes to: the order service's `OrderCreated`, read with a schema of its own (the fields a
 * payment needs; anything else in the payload is ignored). The services share no code, only this contract,
 * which `test/e2e/choreography.test.ts` checks from both sides.
 */
export const ORDER_EVENTS_AGGREGATE = 'Order';
export const ORDER_CREATED_EVENT = 'OrderCreated';
export const orderCreatedPayloadSchema = z.object({
  orderId: z.uuid(),
  amount: z.number().positive(),
  currency: z.string().regex(/^[A-Z]{3}$/),
});
export type OrderToPay = z.output<typeof orderCreatedPayloadSchema>;

/** What the worker emits: one Payment aggregate per order (its id is the order's), so its events stay in order. */
export const PAYMENT_AGGREGATE = 'Payment';
export const PAYMENT_STARTED = 'PaymentStarted';
export const PAYMENT_SUCCEEDED = 'PaymentSucceeded';
export const PAYMENT_FAILED = 'PaymentFailed';

/** Where an outgoing event came from: carried in its headers so a payment can be traced to its order request. */
export interface Causation {
  /** Outbox-Event-Id of the OrderCreated event. */
  eventId: string;
  correlationId: string | undefined;
  traceparent: string | undefined;
}

/**
 * With tracing on, the outgoing event carries the context of the span processing the cause (`enqueue` adds it):
 * same trace, and the payment's processing span as its parent. With tracing off, the cause's traceparent is passed
 * on as it came, so the trace id still follows the order.
 */
function headersOf(cause: Causation): EventHeaders {
  const headers: EventHeaders = { causationId: cause.eventId };
  if (cause.correlationId !== undefined) headers.correlationId = cause.correlationId;
  if (cause.traceparent !== undefined && activeTraceHeaders().traceparent === undefined) headers.traceparent = cause.traceparent;
  return headers;
}

function paymentEvent(eventType: string, order: OrderToPay, fields: Record<string, unknown>, cause: Causation): OutboxEventInput {
  return {
    id: randomUUID(),
    aggregateType: PAYMENT_AGGREGATE,
    aggregateId: order.orderId,
    eventType,
    payload: { orderId: order.orderId, amount: order.amount, currency: order.currency, ...fields },
    headers: headersOf(cause),
  };
}

/** The worker took the order on: the order service shows it PAYMENT_PENDING while charges are tried. */
export function paymentStartedEvent(order: OrderToPay, cause: Causation): OutboxEventInput {
  return paymentEvent(PAYMENT_STARTED, order, { startedAt: new Date().toISOString() }, cause);
}

export function paymentSucceededEvent(order: OrderToPay, chargeId: string, cause: Causation): OutboxEventInput {
  return paymentEvent(PAYMENT_SUCCEEDED, order, { chargeId, paidAt: new Date().toISOString() }, cause);
}

export function paymentFailedEvent(order: OrderToPay, reason: string, cause: Causation): OutboxEventInput {
  return paymentEvent(PAYMENT_FAILED, order, { reason, failedAt: new Date().toISOString() }, cause);
}
