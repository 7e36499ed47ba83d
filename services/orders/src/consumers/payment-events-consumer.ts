import type { NatsConnection } from '@nats-io/nats-core';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { Inbox, startInboxWorker, type InboxWorker } from '@outbox-relay/inbox';
import type { StreamOwnership } from '@outbox-relay/outbox';
import { OrderRepository } from '../data/order-repository';
import { PAYMENT_EVENTS_AGGREGATE } from '../domain/payment-events';
import { paymentEventsHandler } from './payment-events-handler';

export interface PaymentEventsConsumerSettings {
  /** The orders schema: the orders the events move and the service's own inbox live there. */
  ordersSchema: string;
  stream: string;
  subjectPrefix: string;
  /** Used only when this consumer creates the stream (no relay created it yet). */
  duplicateWindowMs: number;
  /** Who owns the stream (OUTBOX_STREAM_MANAGEMENT) and the limits of one this consumer creates. */
  streamOwnership?: StreamOwnership;
  /** Durable JetStream consumer name, also the inbox's consumer key. */
  consumerName: string;
}

/** How the order service consumes: generous retries (an order update only fails on a database problem). */
const DELIVERY = {
  ackWaitMs: 30_000,
  maxAckPending: 1000,
  maxRetries: 10,
  backoff: { minMs: 500, maxMs: 30_000 },
  concurrency: 8,
  retention: { processedMs: 24 * 3_600_000, deadLetterMs: 7 * 24 * 3_600_000, intervalMs: 60_000 },
};

/**
 * The order service's consumer of the payment worker's events (`<prefix>.Payment.>`): each moves its order
 * (PAYMENT_PENDING → PAID | FAILED) exactly once, through the service's own inbox in the orders schema.
 */
export async function startPaymentEventsConsumer(
  deps: { pool: Pool; nc: NatsConnection; logger: Logger },
  settings: PaymentEventsConsumerSettings,
): Promise<InboxWorker> {
  const logger = deps.logger.child({ consumer: settings.consumerName });
  const filterSubject = `${settings.subjectPrefix}.${PAYMENT_EVENTS_AGGREGATE}.>`;
  const inbox = new Inbox({ pool: deps.pool, schema: settings.ordersSchema, consumer: settings.consumerName, logger });
  const worker = await startInboxWorker({
    pool: deps.pool,
    nc: deps.nc,
    logger,
    inbox,
    inboxSchema: settings.ordersSchema,
    stream: settings.stream,
    subjectPrefix: settings.subjectPrefix,
    duplicateWindowMs: settings.duplicateWindowMs,
    streamOwnership: settings.streamOwnership,
    filterSubject,
    remedy: 'delete it or set another ORDERS_PAYMENTS_CONSUMER',
    handler: paymentEventsHandler(new OrderRepository(settings.ordersSchema), logger),
    ...DELIVERY,
  });
  logger.info({ stream: settings.stream, filterSubject }, 'consuming payment events');
  return worker;
}
