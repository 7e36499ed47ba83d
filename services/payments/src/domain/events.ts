import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { activeTraceHeaders, type EventHeaders, type OutboxEventInput } from '@outbox-relay/outbox';
import { ORDER_AGGREGATE } from '@outbox-relay/orders';

export const PAYMENT_SUCCEEDED = 'PaymentSucceeded';
export const PAYMENT_FAILED = 'PaymentFailed';

/** What the worker needs from an `OrderCreated` payload; anything else in it is ignored. */
export const orderCreatedPayloadSchema = z.object({
  orderId: z.uuid(),
  amount: z.number().positive(),
  currency: z.string().regex(/^[A-Z]{3}$/),
});
export type OrderToPay = z.output<typeof orderCreatedPayloadSchema>;

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

/** Aggregate Order, so the relay publishes it after the order's OrderCreated (commit order per aggregate). */
export function paymentSucceededEvent(order: OrderToPay, chargeId: string, cause: Causation): OutboxEventInput {
  return {
    id: randomUUID(),
    aggregateType: ORDER_AGGREGATE,
    aggregateId: order.orderId,
    eventType: PAYMENT_SUCCEEDED,
    payload: { orderId: order.orderId, amount: order.amount, currency: order.currency, chargeId, paidAt: new Date().toISOString() },
    headers: headersOf(cause),
  };
}

export function paymentFailedEvent(order: OrderToPay, reason: string, cause: Causation): OutboxEventInput {
  return {
    id: randomUUID(),
    aggregateType: ORDER_AGGREGATE,
    aggregateId: order.orderId,
    eventType: PAYMENT_FAILED,
    payload: { orderId: order.orderId, amount: order.amount, currency: order.currency, reason, failedAt: new Date().toISOString() },
    headers: headersOf(cause),
  };
}
