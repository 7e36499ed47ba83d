import type { PoolClient } from 'pg';
import type { Logger } from 'pino';
import { PermanentHandlerError, type InboxEvent } from '@outbox-relay/inbox';
import type { OrderState } from '../domain/order';
import { isPaymentEventType, paymentEventPayloadSchema, statesAfterPaymentEvent } from '../domain/payment-events';
import type { OrderRepository } from '../data/order-repository';

/** What one payment event did to its order (the inbox's `processed` value). */
export type PaymentEventResult =
  | { outcome: 'moved'; orderId: string; from: OrderState; to: OrderState; version: number }
  | { outcome: 'unchanged'; orderId: string; state: OrderState }
  | { outcome: 'ignored'; eventType: string };

/**
 * Moves the order a payment event is about, inside the inbox transaction: the order's new state and the inbox row
 * commit together, so each event moves its order exactly once. Optimistic locking (the version read is the version
 * written) makes a concurrent change of the same order fail the transaction, which the inbox retries.
 */
export function paymentEventsHandler(orders: OrderRepository, logger: Logger) {
  return async (tx: PoolClient, event: InboxEvent): Promise<PaymentEventResult> => {
    if (!isPaymentEventType(event.eventType)) return { outcome: 'ignored', eventType: event.eventType };
    const parsed = paymentEventPayloadSchema.safeParse(event.payload);
    if (!parsed.success) throw new PermanentHandlerError(`${event.eventType} payload names no order (orderId)`, { cause: parsed.error });
    const { orderId } = parsed.data;
    const log = logger.child({ eventId: event.eventId, eventType: event.eventType, orderId });
    // FOR UPDATE is not needed: transition() re-checks the version in its UPDATE.
    const order = await orders.findById(tx, orderId);
    if (!order) throw new PermanentHandlerError(`${event.eventType} for order ${orderId}, which does not exist in ${orders.schema}`);
    const steps = statesAfterPaymentEvent(order.state, event.eventType);
    if (steps.length === 0) {
      const level = order.state === 'PAID' && event.eventType !== 'PaymentSucceeded' ? 'warn' : 'info';
      log[level]({ state: order.state, version: order.version }, 'order already past this payment event; left as it is');
      return { outcome: 'unchanged', orderId, state: order.state };
    }
    let current = order;
    for (const to of steps) current = await orders.transition(tx, orderId, current.version, to);
    log.info({ from: order.state, to: current.state, version: current.version }, `order ${current.state}`);
    return { outcome: 'moved', orderId, from: order.state, to: current.state, version: current.version };
  };
}
