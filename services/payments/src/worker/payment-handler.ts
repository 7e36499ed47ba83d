import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import { PermanentHandlerError, type InboxEvent } from '@outbox-relay/inbox';
import { withTransaction, type Outbox } from '@outbox-relay/outbox';
import type { PaymentRepository, PaymentStart } from '../data/payment-repository';
import {
  ORDER_CREATED_EVENT,
  orderCreatedPayloadSchema,
  paymentFailedEvent,
  paymentStartedEvent,
  paymentSucceededEvent,
  type Causation,
  type OrderToPay,
} from '../domain/events';
import { PaymentGatewayError, type PaymentGateway } from '../gateway/gateway';

export interface PaymentHandlerDeps {
  /** For recording the payment started, committed on its own before the gateway is called. */
  pool: Pool;
  payments: PaymentRepository;
  gateway: PaymentGateway;
  outbox: Outbox;
  logger: Logger;
}

/** What one OrderCreated led to (the inbox's `processed` value). */
export type PaymentResult =
  | { outcome: 'paid'; orderId: string; chargeId: string; gatewayAttempt: number }
  | { outcome: 'already-paid'; orderId: string }
  | { outcome: 'ignored'; eventType: string };

function causationOf(event: InboxEvent): Causation {
  return { eventId: event.eventId, correlationId: event.correlationId, traceparent: event.traceparent };
}

/**
 * Payment of one order, as an inbox handler (runs in the inbox transaction, after the inbox row was claimed) and
 * its dead-letter effects. The worker changes only its own `payments` rows; the order service hears of each
 * step through the events and moves its orders itself.
 *
 * The payment is recorded PENDING, with PaymentStarted, in its own short transaction *before* the gateway is
 * called, not in the inbox transaction: a gateway failure rolls the inbox transaction back (that is how the event
 * stays unprocessed and is retried), and the start must stay recorded (and announced once) during those retries.
 * It is safe on its own: a redelivery finds the payment pending and goes on charging (the gateway deduplicates by
 * the order id), and a dead letter records it FAILED with PaymentFailed. SUCCEEDED, PaymentSucceeded and the inbox
 * row commit together.
 */
export class PaymentHandler {
  constructor(private readonly deps: PaymentHandlerDeps) {}

  readonly handle = async (tx: PoolClient, event: InboxEvent): Promise<PaymentResult> => {
    const log = this.deps.logger.child({ eventId: event.eventId, deliveryCount: event.deliveryCount });
    if (event.eventType !== ORDER_CREATED_EVENT) {
      log.debug({ eventType: event.eventType }, 'not an OrderCreated event; ignored');
      return { outcome: 'ignored', eventType: event.eventType };
    }
    const toPay = this.orderToPayOf(event);
    const { orderId } = toPay;
    const start = await this.startPayment(toPay, event, log);
    if (start === 'succeeded') {
      log.info({ orderId }, 'order already paid; nothing to charge');
      return { outcome: 'already-paid', orderId };
    }
    let charge;
    try {
      charge = await this.deps.gateway.charge({ idempotencyKey: orderId, ...toPay });
    } catch (error) {
      const attempt = error instanceof PaymentGatewayError ? error.attempt : undefined;
      log.warn({ orderId, attempt, err: error }, 'charge failed; the event will be retried or dead-lettered');
      throw error;
    }
    await this.deps.payments.recordSucceeded(tx, this.outcomeOf(toPay, event), charge.chargeId);
    const [emitted] = await this.deps.outbox.enqueue(tx, paymentSucceededEvent(toPay, charge.chargeId, causationOf(event)));
    log.info(
      { orderId, attempt: charge.attempt, chargeId: charge.chargeId, chargeReplayed: charge.replayed, paymentEventId: emitted?.id },
      'payment succeeded',
    );
    return { outcome: 'paid', orderId, chargeId: charge.chargeId, gatewayAttempt: charge.attempt };
  };

  /** Runs in the dead-letter transaction: the payment is recorded FAILED and PaymentFailed is emitted. */
  readonly onDeadLetter = async (tx: PoolClient, event: InboxEvent, reason: string): Promise<void> => {
    const log = this.deps.logger.child({ eventId: event.eventId, deliveryCount: event.deliveryCount });
    const parsed = event.eventType === ORDER_CREATED_EVENT ? orderCreatedPayloadSchema.safeParse(event.payload) : null;
    if (!parsed?.success) {
      log.error({ eventType: event.eventType, reason }, 'dead-lettered an event that names no order; no payment to record FAILED');
      return;
    }
    const toPay = parsed.data;
    if (!(await this.deps.payments.recordFailed(tx, this.outcomeOf(toPay, event), reason))) {
      log.warn({ orderId: toPay.orderId, reason }, 'payment already succeeded; left as it is');
      return;
    }
    const [emitted] = await this.deps.outbox.enqueue(tx, paymentFailedEvent(toPay, reason, causationOf(event)));
    log.warn({ orderId: toPay.orderId, reason, paymentEventId: emitted?.id }, 'payment given up; PaymentFailed emitted');
  };

  private orderToPayOf(event: InboxEvent): OrderToPay {
    const parsed = orderCreatedPayloadSchema.safeParse(event.payload);
    if (!parsed.success) {
      const fields = parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
      throw new PermanentHandlerError(`OrderCreated payload is invalid (${fields})`, { cause: parsed.error });
    }
    return parsed.data;
  }

  private outcomeOf(toPay: OrderToPay, event: InboxEvent) {
    return { ...toPay, gateway: this.deps.gateway.name, sourceEventId: event.eventId };
  }

  /** Records the payment started, with PaymentStarted when it is new or restarted, in a transaction of its own. */
  private async startPayment(toPay: OrderToPay, event: InboxEvent, log: Logger): Promise<PaymentStart> {
    const { pool, payments, outbox } = this.deps;
    const start = await withTransaction(pool, async (client) => {
      const found = await payments.start(client, this.outcomeOf(toPay, event));
      if (found === 'started' || found === 'restarted') await outbox.enqueue(client, paymentStartedEvent(toPay, causationOf(event)));
      return found;
    });
    if (start === 'started' || start === 'restarted') {
      outbox.wake();
      log.info({ orderId: toPay.orderId, start }, 'payment started; PaymentStarted emitted');
    }
    return start;
  }
}
