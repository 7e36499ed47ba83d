// The event shape every step uses, so raw limits and product figures move the same bytes.
import { randomUUID } from 'node:crypto';
import type { OutboxEventInput } from '@outbox-relay/outbox';

export type OrderCreatedPayload = { orderId: string; customerId: string; amount: number; currency: string; createdAt: string };

/** An OrderCreated payload like the order service's (about 170 bytes of JSON). */
export function orderCreatedPayload(orderId: string = randomUUID()): OrderCreatedPayload {
  return { orderId, customerId: randomUUID(), amount: 42.5, currency: 'EUR', createdAt: new Date().toISOString() };
}

/** An outbox event input for `enqueue`. */
export function orderCreatedEvent(orderId: string = randomUUID()): OutboxEventInput {
  return {
    aggregateType: 'Order',
    aggregateId: orderId,
    eventType: 'OrderCreated',
    payload: orderCreatedPayload(orderId),
    headers: { correlationId: randomUUID() },
  };
}
