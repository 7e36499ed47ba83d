import type { InboxWorker } from '@outbox-relay/inbox';
import { Outbox, type OutboxRelay } from '@outbox-relay/outbox';
import { createOrdersHttp, migrateOrders, startPaymentEventsConsumer } from '@outbox-relay/orders';
import { FakePaymentGateway, migratePayments, paymentsEnvSchema, paymentWorkerSettings, startPaymentWorker, type FakeGatewaySettings, type PaymentWorker } from '@outbox-relay/payments';
import type { RequestObserver, ServiceHttp } from '@outbox-relay/runtime';
import { createTestSchema, createTestStream, makeRelay, quietLogger, TEST_DATABASE_URL, uniqueName, type TestSchema, type TestStream } from '@outbox-relay/test-support';

/** The order system in one process, on real servers: the order API, a relay, the payment worker, the order service's payment events consumer. */
export interface OrderSystem {
  db: TestSchema;
  ns: TestStream;
  ordersSchema: string;
  paymentsSchema: string;
  /** Base URL of the order API. */
  base: string;
  worker: PaymentWorker;
  paymentEvents: InboxWorker;
  stop(): Promise<void>;
}

export interface OrderSystemOptions {
  gateway: FakeGatewaySettings;
  /** Retries of a declined charge before the worker gives the payment up. */
  maxRetries: number;
  /** Around each request of the order API (the trace test's server span). */
  observers?: readonly RequestObserver[];
}

/** Starts the order system on schemas and a stream of its own, named after `prefix`. */
export async function startOrderSystem(prefix: string, options: OrderSystemOptions): Promise<OrderSystem> {
  const db = await createTestSchema(`${prefix}_ob`, { max: 20 });
  const ns = await createTestStream(prefix);
  const { pool } = db;
  const ordersSchema = uniqueName(`${prefix}_or`);
  const inboxSchema = uniqueName(`${prefix}_in`);
  const paymentsSchema = uniqueName(`${prefix}_pa`);
  await migrateOrders({ pool, schema: ordersSchema, outboxSchema: db.schema });
  await migratePayments({ pool, outboxSchema: db.schema, inboxSchema, paymentsSchema, fakeGateway: true });
  const outbox = new Outbox({ pool, schema: db.schema });
  const orders: ServiceHttp = createOrdersHttp({ pool, outbox, ordersSchema, logger: quietLogger, isReady: () => true, observers: options.observers });
  const base = `http://127.0.0.1:${await orders.listen(0, '127.0.0.1')}`;
  const relay: OutboxRelay = makeRelay(db, ns, ns.nc);
  await relay.start();
  const gateway = new FakePaymentGateway({ pool, schema: paymentsSchema, settings: options.gateway });
  // The worker's settings as the process reads them, with this system's names and quick retries.
  const config = paymentsEnvSchema.parse({
    DATABASE_URL: TEST_DATABASE_URL,
    OUTBOX_SCHEMA: db.schema,
    INBOX_SCHEMA: inboxSchema,
    PAYMENTS_SCHEMA: paymentsSchema,
    OUTBOX_STREAM: ns.stream,
    OUTBOX_SUBJECT_PREFIX: ns.subjectPrefix,
    PAYMENTS_MAX_RETRIES: String(options.maxRetries),
    PAYMENTS_BACKOFF_MIN_MS: '50',
    PAYMENTS_BACKOFF_MAX_MS: '500',
  });
  const worker = await startPaymentWorker({ pool, nc: ns.nc, gateway, logger: quietLogger }, paymentWorkerSettings(config));
  const paymentEvents = await startPaymentEventsConsumer(
    { pool, nc: ns.nc, logger: quietLogger },
    { ordersSchema, stream: ns.stream, subjectPrefix: ns.subjectPrefix, duplicateWindowMs: 120_000, consumerName: 'orders-payments' },
  );
  return {
    db,
    ns,
    ordersSchema,
    paymentsSchema,
    base,
    worker,
    paymentEvents,
    async stop() {
      await paymentEvents.stop();
      await worker.stop();
      await relay.stop();
      await orders.close(5000);
      await outbox.close();
      for (const schema of [ordersSchema, inboxSchema, paymentsSchema]) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await ns.drop();
      await db.drop();
    },
  };
}
