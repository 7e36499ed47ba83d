import type { NatsConnection } from '@nats-io/nats-core';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { inboxTables, startInboxWorker } from '@outbox-relay/inbox';
import { Outbox, SchemaError, type StreamOwnership } from '@outbox-relay/outbox';
import { PaymentRepository } from '../data/payment-repository';
import { ORDER_CREATED_EVENT, ORDER_EVENTS_AGGREGATE } from '../domain/events';
import type { PaymentGateway } from '../gateway/gateway';
import { PaymentHandler } from './payment-handler';
import { PaymentInbox } from './payment-inbox';

/** Library form of the worker's settings (main builds it from the environment). */
export interface PaymentWorkerSettings {
  inboxSchema: string;
  paymentsSchema: string;
  outboxSchema: string;
  maxPayloadBytes: number;
  stream: string;
  subjectPrefix: string;
  /** Used only when the worker creates the stream (it started before any relay). */
  duplicateWindowMs: number;
  /** Who owns the stream (OUTBOX_STREAM_MANAGEMENT) and the limits of one this worker creates. */
  streamOwnership?: StreamOwnership;
  consumerName: string;
  maxRetries: number;
  backoff: { minMs: number; maxMs: number };
  ackWaitMs: number;
  maxAckPending: number;
  concurrency: number;
  /** Deletes this worker's old inbox rows and resolved dead letters (see sweepInbox). */
  inboxRetention: { processedMs: number; deadLetterMs: number; intervalMs: number };
}

export interface PaymentWorkerDeps {
  pool: Pool;
  nc: NatsConnection;
  gateway: PaymentGateway;
  logger: Logger;
  /** Told how many rows each inbox retention sweep deleted (metrics); `RelayMetrics` is one. */
  retention?: { retentionDeleted(table: string, rows: number): void };
}

export interface PaymentStats {
  processed: number;
  duplicates: number;
  succeeded: number;
  alreadyPaid: number;
  /** Failed attempts (gateway failures and other handler errors). */
  failed: number;
  retried: number;
  deadLettered: number;
  infrastructureErrors: number;
}

export interface PaymentWorker {
  readonly consumerName: string;
  readonly filterSubject: string;
  stats(): PaymentStats;
  /** Stops pulling, settles the events in hand (acked or naked), flushes the outbox wake-up. Idempotent. */
  stop(): Promise<void>;
  readonly done: Promise<void>;
}

/** Refuses to start against schemas that were never migrated, naming the missing table. */
async function checkTables(pool: Pool, tables: Array<[schema: string, table: string]>): Promise<void> {
  for (const [schema, table] of tables) {
    try {
      await pool.query(`SELECT 1 FROM ${table} LIMIT 0`);
    } catch (error) {
      if ((error as { code?: string }).code !== '42P01') throw error;
      throw new SchemaError(schema, `table ${table} not found; run the migrations (OUTBOX_MIGRATE=true)`, { cause: error });
    }
  }
}

/**
 * The payment worker on an open pool and NATS connection: consumes `<prefix>.Order.OrderCreated` through the
 * inbox (exactly once), charges through `gateway`, retries with backoff, dead-letters, and emits PaymentStarted,
 * PaymentSucceeded / PaymentFailed through the outbox in the transactions that record the payment.
 */
export async function startPaymentWorker(deps: PaymentWorkerDeps, settings: PaymentWorkerSettings): Promise<PaymentWorker> {
  const { pool, nc } = deps;
  const logger = deps.logger.child({ consumer: settings.consumerName });
  await checkTables(pool, [
    [settings.inboxSchema, inboxTables(settings.inboxSchema).inbox],
    [settings.paymentsSchema, `"${settings.paymentsSchema}".payments`],
    [settings.outboxSchema, `"${settings.outboxSchema}".outbox`],
  ]);

  const filterSubject = `${settings.subjectPrefix}.${ORDER_EVENTS_AGGREGATE}.${ORDER_CREATED_EVENT}`;
  const outbox = new Outbox({ pool, schema: settings.outboxSchema, maxPayloadBytes: settings.maxPayloadBytes, logger });
  const inbox = new PaymentInbox({
    pool,
    schema: settings.inboxSchema,
    consumer: settings.consumerName,
    // Every committed outcome may have enqueued an event: wake the relays now rather than at their next poll.
    afterCommit: () => outbox.wake(),
    logger,
  });
  const handler = new PaymentHandler({ pool, payments: new PaymentRepository(settings.paymentsSchema), gateway: deps.gateway, outbox, logger });
  const running = await startInboxWorker({
    pool,
    nc,
    logger,
    inbox,
    inboxSchema: settings.inboxSchema,
    stream: settings.stream,
    subjectPrefix: settings.subjectPrefix,
    duplicateWindowMs: settings.duplicateWindowMs,
    streamOwnership: settings.streamOwnership,
    filterSubject,
    remedy: 'delete it or set another PAYMENTS_CONSUMER',
    ackWaitMs: settings.ackWaitMs,
    maxAckPending: settings.maxAckPending,
    handler: handler.handle,
    onDeadLetter: handler.onDeadLetter,
    maxRetries: settings.maxRetries,
    backoff: settings.backoff,
    concurrency: settings.concurrency,
    retention: settings.inboxRetention,
    onRetention: (table, rows) => deps.retention?.retentionDeleted(table, rows),
  });
  logger.info(
    { stream: settings.stream, filterSubject, gateway: deps.gateway.name, maxRetries: settings.maxRetries, backoff: settings.backoff, ackWaitMs: settings.ackWaitMs },
    'payment worker consuming',
  );

  let stopping: Promise<void> | undefined;
  return {
    consumerName: settings.consumerName,
    filterSubject,
    done: running.done,
    stats: () => ({ ...running.stats(), ...inbox.counters }),
    stop() {
      stopping ??= (async () => {
        await running.stop();
        await outbox.close();
        logger.info({ stats: { ...running.stats(), ...inbox.counters } }, 'payment worker stopped');
      })();
      return stopping;
    },
  };
}
