import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { ensureDurableConsumer, inboxTables, startInboxConsumer, sweepInbox, type InboxConsumer } from '@outbox-relay/inbox';
import { ensureStream, Outbox, RetentionSweeper, SchemaError } from '@outbox-relay/outbox';
import { ORDER_AGGREGATE, ORDER_CREATED, OrderRepository } from '@outbox-relay/orders';
import { PaymentRepository } from '../data/payment-repository';
import type { PaymentGateway } from '../gateway/gateway';
import { PaymentHandler } from './payment-handler';
import { PaymentInbox } from './payment-inbox';

/** Library form of the worker's settings (main builds it from the environment). */
export interface PaymentWorkerSettings {
  ordersSchema: string;
  inboxSchema: string;
  paymentsSchema: string;
  outboxSchema: string;
  maxPayloadBytes: number;
  stream: string;
  subjectPrefix: string;
  /** Used only when the worker creates the stream (it started before any relay). */
  duplicateWindowMs: number;
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
 * inbox (exactly once), charges through `gateway`, retries with backoff, dead-letters, and emits
 * PaymentSucceeded / PaymentFailed through the outbox in the same transactions.
 */
export async function startPaymentWorker(deps: PaymentWorkerDeps, settings: PaymentWorkerSettings): Promise<PaymentWorker> {
  const { pool, nc } = deps;
  const logger = deps.logger.child({ consumer: settings.consumerName });
  const orders = new OrderRepository(settings.ordersSchema);
  await checkTables(pool, [
    [settings.ordersSchema, `"${settings.ordersSchema}".orders`],
    [settings.inboxSchema, inboxTables(settings.inboxSchema).inbox],
    [settings.paymentsSchema, `"${settings.paymentsSchema}".payments`],
    [settings.outboxSchema, `"${settings.outboxSchema}".outbox`],
  ]);

  const filterSubject = `${settings.subjectPrefix}.${ORDER_AGGREGATE}.${ORDER_CREATED}`;
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, { name: settings.stream, subjectPrefix: settings.subjectPrefix, duplicateWindowMs: settings.duplicateWindowMs });
  await ensureDurableConsumer(jsm, {
    stream: settings.stream,
    name: settings.consumerName,
    filterSubject,
    ackWaitMs: settings.ackWaitMs,
    maxAckPending: settings.maxAckPending,
    remedy: 'delete it or set another PAYMENTS_CONSUMER',
  });
  const consumer = await jetstream(nc).consumers.get(settings.stream, settings.consumerName);

  const outbox = new Outbox({ pool, schema: settings.outboxSchema, maxPayloadBytes: settings.maxPayloadBytes, logger });
  const inbox = new PaymentInbox({
    pool,
    schema: settings.inboxSchema,
    consumer: settings.consumerName,
    // Every committed outcome may have enqueued an event: wake the relays now rather than at their next poll.
    afterCommit: () => outbox.wake(),
    logger,
  });
  const handler = new PaymentHandler({
    pool,
    orders,
    payments: new PaymentRepository(settings.paymentsSchema),
    gateway: deps.gateway,
    outbox,
    logger,
  });
  const running: InboxConsumer = await startInboxConsumer({
    inbox,
    consumer,
    handler: handler.handle,
    onDeadLetter: handler.onDeadLetter,
    maxRetries: settings.maxRetries,
    backoff: settings.backoff,
    concurrency: settings.concurrency,
    logger,
  });
  const retention = settings.inboxRetention;
  const sweeper = new RetentionSweeper(
    async () => {
      const deleted = await sweepInbox({ pool, schema: settings.inboxSchema, olderThanMs: retention.processedMs, deadLetterOlderThanMs: retention.deadLetterMs });
      deps.retention?.retentionDeleted('inbox', deleted.inbox);
      deps.retention?.retentionDeleted('inbox_dead_letters', deleted.deadLetters);
      return deleted;
    },
    retention.intervalMs,
    () => true,
    logger.child({ schema: settings.inboxSchema, table: 'inbox' }),
  );
  sweeper.start();
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
        await sweeper.stop();
        await running.stop();
        // Acks are fire-and-forget publishes; make sure the server has them before the connection closes.
        if (!nc.isClosed()) await nc.flush().catch(() => undefined);
        await outbox.close();
        logger.info({ stats: { ...running.stats(), ...inbox.counters } }, 'payment worker stopped');
      })();
      return stopping;
    },
  };
}
