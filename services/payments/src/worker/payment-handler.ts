import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import { PermanentHandlerError, type InboxEvent } from '@outbox-relay/inbox';
import type { Outbox } from '@outbox-relay/outbox';
import { ORDER_CREATED, OrderNotFoundError, StaleVersionError, type Order, type OrderRepository } from '@outbox-relay/orders';
import type { PaymentRepository } from '../data/payment-repository';
import { orderCreatedPayloadSchema, paymentFailedEvent, paymentSucceededEvent, type Causation, type OrderToPay } from '../domain/events';
import { PaymentGatewayError, type PaymentGateway } from '../gateway/gateway';

export interface PaymentHandlerDeps {
  /** For the PAYMENT_PENDING transition, committed on its own before the gateway is called. */
  pool: Pool;
  orders: OrderRepository;
  payments: PaymentRepository;
  gateway: PaymentGateway;
  outbox: Outbox;
  logger: Logger;
}

/** What one OrderCreated led to (the inbox's `processed` value). */
export type PaymentResult =
  | { outcome: 'paid'; orderId: string; chargeId: string; version: number; gatewayAttempt: number }
  | { outcome: 'already-paid'; orderId: string }
  | { outcome: 'ignored'; eventType: string };

/** Tries of the PAYMENT_PENDING transition when another writer keeps changing the order under us. */
const PENDING_TRIES = 3;

function causationOf(event: InboxEvent): Causation {
  return { eventId: event.eventId, correlationId: event.correlationId, traceparent: event.traceparent };
}

function orderToPay(order: Order): OrderToPay {
  return { orderId: order.id, amount: order.amount, currency: order.currency };
}

/**
 * Payment of one order, as an inbox handler (runs in the inbox transaction, after the inbox row was claimed) and
 * its dead-letter effects.
 *
 * CREATED → PAYMENT_PENDING is committed in its own short transaction *before* the gateway is called, not in the
 * inbox transaction: a gateway failure rolls the inbox transaction back (that is how the event stays unprocessed
 * and is retried), and the order must keep showing PAYMENT_PENDING during those retries instead of falling back
 * to CREATED. It is safe on its own: a redelivery finds the order already PAYMENT_PENDING and goes on charging
 * (the gateway deduplicates by the order id), and a dead letter moves it to FAILED.
 * PAYMENT_PENDING → PAID, the payments row and PaymentSucceeded commit together with the inbox row.
 */
export class PaymentHandler {
  constructor(private readonly deps: PaymentHandlerDeps) {}

  readonly handle = async (tx: PoolClient, event: InboxEvent): Promise<PaymentResult> => {
    const log = this.deps.logger.child({ eventId: event.eventId, deliveryCount: event.deliveryCount });
    if (event.eventType !== ORDER_CREATED) {
      log.debug({ eventType: event.eventType }, 'not an OrderCreated event; ignored');
      return { outcome: 'ignored', eventType: event.eventType };
    }
    const orderId = this.orderIdOf(event);
    const order = await this.startPayment(orderId, log);
    if (order.state === 'PAID') {
      log.info({ orderId, version: order.version }, 'order already paid; nothing to charge');
      return { outcome: 'already-paid', orderId };
    }
    const toPay = orderToPay(order);
    let charge;
    try {
      charge = await this.deps.gateway.charge({ idempotencyKey: orderId, ...toPay });
    } catch (error) {
      const attempt = error instanceof PaymentGatewayError ? error.attempt : undefined;
      log.warn({ orderId, attempt, err: error }, 'charge failed; the event will be retried or dead-lettered');
      throw error;
    }
    const paid = await this.deps.orders.transition(tx, orderId, order.version, 'PAID');
    await this.deps.payments.recordSucceeded(tx, { ...toPay, gateway: this.deps.gateway.name, sourceEventId: event.eventId }, charge.chargeId);
    const [emitted] = await this.deps.outbox.enqueue(tx, paymentSucceededEvent(toPay, charge.chargeId, causationOf(event)));
    log.info(
      { orderId, attempt: charge.attempt, chargeId: charge.chargeId, chargeReplayed: charge.replayed, version: paid.version, paymentEventId: emitted?.id },
      'order paid',
    );
    return { outcome: 'paid', orderId, chargeId: charge.chargeId, version: paid.version, gatewayAttempt: charge.attempt };
  };

  /** Runs in the dead-letter transaction: the order becomes FAILED and PaymentFailed is emitted. */
  readonly onDeadLetter = async (tx: PoolClient, event: InboxEvent, reason: string): Promise<void> => {
    const log = this.deps.logger.child({ eventId: event.eventId, deliveryCount: event.deliveryCount });
    const parsed = event.eventType === ORDER_CREATED ? orderCreatedPayloadSchema.safeParse(event.payload) : null;
    if (!parsed?.success) {
      log.error({ eventType: event.eventType, reason }, 'dead-lettered an event that names no order; no order to mark FAILED');
      return;
    }
    const orderId = parsed.data.orderId;
    const order = await this.deps.orders.findById(tx, orderId);
    if (!order) {
      log.error({ orderId, reason }, 'dead-lettered an OrderCreated whose order does not exist');
      return;
    }
    if (order.state === 'PAID' || order.state === 'FAILED') {
      log.warn({ orderId, state: order.state, reason }, `order already ${order.state}; left as it is`);
      return;
    }
    let version = order.version;
    if (order.state === 'CREATED') version = (await this.deps.orders.transition(tx, orderId, version, 'PAYMENT_PENDING')).version;
    const failed = await this.deps.orders.transition(tx, orderId, version, 'FAILED');
    const toPay = orderToPay(order);
    await this.deps.payments.recordFailed(tx, { ...toPay, gateway: this.deps.gateway.name, sourceEventId: event.eventId }, reason);
    const [emitted] = await this.deps.outbox.enqueue(tx, paymentFailedEvent(toPay, reason, causationOf(event)));
    log.warn({ orderId, version: failed.version, reason, paymentEventId: emitted?.id }, 'payment given up; order FAILED');
  };

  private orderIdOf(event: InboxEvent): string {
    const parsed = orderCreatedPayloadSchema.safeParse(event.payload);
    if (!parsed.success) {
      const fields = parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
      throw new PermanentHandlerError(`OrderCreated payload is invalid (${fields})`, { cause: parsed.error });
    }
    return parsed.data.orderId;
  }

  /** Commits CREATED/FAILED → PAYMENT_PENDING on its own (see the class comment); returns the order as it is now. */
  private async startPayment(orderId: string, log: Logger): Promise<Order> {
    const { orders, pool } = this.deps;
    for (let tries = 1; ; tries++) {
      const order = await orders.findById(pool, orderId);
      if (!order) {
        throw new PermanentHandlerError(`order ${orderId} not found in schema ${orders.schema}`, { cause: new OrderNotFoundError(orderId) });
      }
      if (order.state === 'PAYMENT_PENDING' || order.state === 'PAID') return order;
      try {
        const pending = await orders.transition(pool, orderId, order.version, 'PAYMENT_PENDING');
        log.info({ orderId, from: order.state, version: pending.version }, 'payment started; order PAYMENT_PENDING');
        return pending;
      } catch (error) {
        if (!(error instanceof StaleVersionError) || tries >= PENDING_TRIES) throw error;
      }
    }
  }
}
