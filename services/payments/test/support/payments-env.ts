import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Pool } from 'pg';
import { inboxTables } from '@outbox-relay/inbox';
import { Outbox, type OutboxRelay } from '@outbox-relay/outbox';
import {
  FakePaymentGateway,
  migratePayments,
  PaymentHandler,
  PaymentRepository,
  paymentsEnvSchema,
  paymentWorkerSettings,
  startPaymentWorker,
  type ChargeRequest,
  type ChargeResult,
  type FakeGatewaySettings,
  type PaymentGateway,
  type PaymentWorker,
  type PaymentWorkerSettings,
} from '@outbox-relay/payments';
import { createTestSchema, type TestSchema, uniqueName, createTestStream, type TestStream, makeRelay, quietLogger, TEST_DATABASE_URL } from '@outbox-relay/test-support';
import { enqueueOrderCreated, type OrderToPublish } from './order-created';
import { paymentEvents, paymentRow, type PaymentEvent, type PaymentRow } from './payment-records';

/** A gateway wrapper that remembers when each call started and how it ended. */
export class RecordingGateway implements PaymentGateway {
  readonly name: string;
  readonly calls: Array<{ orderId: string; at: number; ok: boolean }> = [];
  constructor(readonly inner: PaymentGateway) {
    this.name = inner.name;
  }
  async charge(request: ChargeRequest): Promise<ChargeResult> {
    const call = { orderId: request.orderId, at: performance.now(), ok: false };
    this.calls.push(call);
    const result = await this.inner.charge(request);
    call.ok = true;
    return result;
  }
  callsFor(orderId: string) {
    return this.calls.filter((c) => c.orderId === orderId);
  }
}

export interface PaymentsTestEnv {
  db: TestSchema;
  ns: TestStream;
  pool: Pool;
  outboxSchema: string;
  inboxSchema: string;
  paymentsSchema: string;
  outbox: Outbox;
  fake: FakePaymentGateway;
  gateway: RecordingGateway;
  relay: OutboxRelay;
  settings(overrides?: Partial<PaymentWorkerSettings>): PaymentWorkerSettings;
  /** The worker's handler on this environment, for tests that drive an inbox by hand. */
  paymentHandler(): PaymentHandler;
  startWorker(overrides?: Partial<PaymentWorkerSettings>): Promise<PaymentWorker>;
  /**
   * Enqueues an OrderCreated (19.99 EUR, correlation id `corr-<first 8 of the order id>` unless told otherwise),
   * as the order service does when an order is placed; the env's relay publishes it.
   */
  publishOrderCreated(order?: OrderToPublish): Promise<{ orderId: string; eventId: string }>;
  payment(orderId: string): Promise<PaymentRow | undefined>;
  /** The events the worker enqueued for the order (aggregate Payment), in commit order. */
  paymentEvents(orderId: string): Promise<PaymentEvent[]>;
  deadLetters(eventId: string): Promise<Array<{ id: string; attempts: number; reason: string; resolved_at: Date | null; payload: Record<string, unknown> }>>;
  inboxRow(eventId: string, consumer?: string): Promise<{ outcome: string } | undefined>;
  /** The documented replay of a consumer dead letter: inbox row deleted, dead letter resolved, replay enqueued. */
  replayDeadLetter(deadLetterId: string): Promise<string>;
  drop(): Promise<void>;
}

export const CONSUMER = 'payments';

export async function createPaymentsTestEnv(prefix: string, fakeSettings: Partial<FakeGatewaySettings> = {}): Promise<PaymentsTestEnv> {
  const db = await createTestSchema(`${prefix}_ob`, { max: 20 });
  const ns = await createTestStream(prefix);
  const { pool } = db;
  const inboxSchema = uniqueName(`${prefix}_in`);
  const paymentsSchema = uniqueName(`${prefix}_pa`);
  await migratePayments({ pool, outboxSchema: db.schema, inboxSchema, paymentsSchema, fakeGateway: true });
  const outbox = new Outbox({ pool, schema: db.schema });
  const fake = new FakePaymentGateway({ pool, schema: paymentsSchema, settings: { successRate: 1, latencyMs: 0, failing: false, ...fakeSettings } });
  const gateway = new RecordingGateway(fake);
  const relay = makeRelay(db, ns, ns.nc);
  await relay.start();
  const workers: PaymentWorker[] = [];
  const t = inboxTables(inboxSchema);

  // The worker's settings as the process reads them (its defaults), with this test's names and timings.
  const base = paymentWorkerSettings(
    paymentsEnvSchema.parse({
      DATABASE_URL: TEST_DATABASE_URL,
      OUTBOX_SCHEMA: db.schema,
      INBOX_SCHEMA: inboxSchema,
      PAYMENTS_SCHEMA: paymentsSchema,
      OUTBOX_STREAM: ns.stream,
      OUTBOX_SUBJECT_PREFIX: ns.subjectPrefix,
      PAYMENTS_CONSUMER: CONSUMER,
      PAYMENTS_BACKOFF_MIN_MS: '100',
      PAYMENTS_BACKOFF_MAX_MS: '2000',
      PAYMENTS_MAX_ACK_PENDING: '100',
    }),
  );
  const settings = (overrides: Partial<PaymentWorkerSettings> = {}): PaymentWorkerSettings => ({ ...base, ...overrides });

  return {
    db,
    ns,
    pool,
    outboxSchema: db.schema,
    inboxSchema,
    paymentsSchema,
    outbox,
    fake,
    gateway,
    relay,
    settings,
    paymentHandler: () =>
      new PaymentHandler({ pool, payments: new PaymentRepository(paymentsSchema), gateway, outbox, logger: quietLogger }),
    async startWorker(overrides = {}) {
      const worker = await startPaymentWorker({ pool, nc: ns.nc, gateway, logger: quietLogger }, settings(overrides));
      workers.push(worker);
      return worker;
    },
    async publishOrderCreated(order = {}) {
      const orderId = order.orderId ?? randomUUID();
      return enqueueOrderCreated(outbox, { correlationId: `corr-${orderId.slice(0, 8)}`, ...order, orderId });
    },
    payment: (orderId) => paymentRow(pool, paymentsSchema, orderId),
    paymentEvents: (orderId) => paymentEvents(pool, db.schema, orderId),
    async deadLetters(eventId) {
      const { rows } = await pool.query(
        `SELECT id::text, attempts, reason, resolved_at, payload FROM ${t.deadLetters} WHERE consumer = $1 AND event_id = $2 ORDER BY id`,
        [CONSUMER, eventId],
      );
      return rows;
    },
    async inboxRow(eventId, consumer = CONSUMER) {
      const { rows } = await pool.query(`SELECT outcome FROM ${t.inbox} WHERE consumer = $1 AND event_id = $2`, [consumer, eventId]);
      return rows[0];
    },
    async replayDeadLetter(deadLetterId) {
      return outbox.transaction(async (tx) => {
        const { rows } = await tx.query(
          `UPDATE ${t.deadLetters} SET resolved_at = now(), resolution = 'replayed'
           WHERE id = $1 AND resolved_at IS NULL
           RETURNING consumer, event_id, event_type, aggregate_type, aggregate_id, payload, headers`,
          [deadLetterId],
        );
        const dl = rows[0];
        if (!dl) throw new Error(`no open dead letter ${deadLetterId}`);
        await tx.query(`DELETE FROM ${t.inbox} WHERE consumer = $1 AND event_id = $2`, [dl.consumer, dl.event_id]);
        const replayId = randomUUID();
        const headers: Record<string, string> = { replayOf: dl.event_id };
        const correlationId = (dl.headers as Record<string, string>)['Outbox-Correlation-Id'];
        if (correlationId) headers.correlationId = correlationId;
        await outbox.enqueue(tx, { id: replayId, aggregateType: dl.aggregate_type, aggregateId: dl.aggregate_id, eventType: dl.event_type, payload: dl.payload, headers });
        return replayId;
      });
    },
    async drop() {
      await Promise.all(workers.map((w) => w.stop()));
      await relay.stop();
      await outbox.close();
      const jsm = await jetstreamManager(ns.nc);
      await jsm.consumers.delete(ns.stream, CONSUMER).catch(() => undefined);
      for (const schema of [inboxSchema, paymentsSchema]) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await ns.drop();
      await db.drop();
    },
  };
}
