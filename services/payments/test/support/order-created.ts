import { randomUUID } from 'node:crypto';
import type { Outbox, OutboxEventInput } from '@outbox-relay/outbox';

/** What a test says about the order whose OrderCreated it publishes; the rest gets defaults. */
export interface OrderToPublish {
  orderId?: string;
  amount?: number;
  currency?: string;
  correlationId?: string;
}

/**
 * The order service's OrderCreated, written by the test itself. The payment worker shares no code and no tables
 * with the order service, only this contract (aggregate `Order`, event `OrderCreated`, this payload), so its tests
 * publish the event the way the order service does, spelled out here rather than imported from it.
 */
export function orderCreatedEvent(order: OrderToPublish = {}): OutboxEventInput & { aggregateId: string } {
  const orderId = order.orderId ?? randomUUID();
  return {
    id: randomUUID(),
    aggregateType: 'Order',
    aggregateId: orderId,
    eventType: 'OrderCreated',
    payload: {
      orderId,
      customerId: randomUUID(),
      amount: order.amount ?? 19.99,
      currency: order.currency ?? 'EUR',
      createdAt: new Date().toISOString(),
    },
    headers: order.correlationId === undefined ? {} : { correlationId: order.correlationId },
  };
}

/** Enqueues an OrderCreated in a transaction of its own (a relay publishes it); returns the order and event ids. */
export async function enqueueOrderCreated(outbox: Outbox, order: OrderToPublish = {}): Promise<{ orderId: string; eventId: string }> {
  const event = orderCreatedEvent(order);
  const [enqueued] = await outbox.transaction((tx) => outbox.enqueue(tx, event));
  return { orderId: event.aggregateId, eventId: enqueued!.id };
}
