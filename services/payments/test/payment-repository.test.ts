/**
 * The rules of the worker's `payments` row, against real Postgres: a payment is started (PENDING) once, found
 * pending by a retry, restarted after it FAILED (a replayed dead letter), never started again nor failed once it
 * SUCCEEDED; and of two deliveries starting the same payment at once, only one is told `started` (so only one
 * PaymentStarted is emitted).
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { withTransaction } from '@outbox-relay/outbox';
import { migratePayments, PaymentRepository } from '@outbox-relay/payments';
import { createTestSchema, type TestSchema, uniqueName, waitFor } from '@outbox-relay/test-support';
import { paymentRow } from './support/payment-records';

let db: TestSchema;
let repository: PaymentRepository;
const inboxSchema = uniqueName('payrepo_in');
const paymentsSchema = uniqueName('payrepo_pa');

beforeAll(async () => {
  db = await createTestSchema('payrepo_ob');
  await migratePayments({ pool: db.pool, outboxSchema: db.schema, inboxSchema, paymentsSchema, fakeGateway: false });
  repository = new PaymentRepository(paymentsSchema);
});
afterAll(async () => {
  for (const schema of [inboxSchema, paymentsSchema]) await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.drop();
});

/** What one OrderCreated delivery tells the repository; each call is another event (its own id). */
const outcome = (orderId: string) => ({ orderId, amount: 12.5, currency: 'EUR', gateway: 'fake', sourceEventId: randomUUID() });
const inTx = <T>(work: (tx: PoolClient) => Promise<T>) => withTransaction(db.pool, work);
const row = (orderId: string) => paymentRow(db.pool, paymentsSchema, orderId);

describe('PaymentRepository.start', () => {
  it('starts a new payment PENDING, finds it pending on a second call, restarts it after FAILED, and reports a SUCCEEDED one', async () => {
    const orderId = randomUUID();
    const first = outcome(orderId);
    expect(await inTx((tx) => repository.start(tx, first))).toBe('started');
    const { rows } = await db.pool.query(`SELECT amount::float8 AS amount, currency, gateway FROM "${paymentsSchema}".payments WHERE order_id = $1`, [orderId]);
    expect(rows).toEqual([{ amount: 12.5, currency: 'EUR', gateway: 'fake' }]);
    expect(await row(orderId)).toEqual({ status: 'PENDING', charge_id: null, failure_reason: null, source_event_id: first.sourceEventId });

    // A retry (or a second OrderCreated) of a payment in progress: nothing new, the row stays the first start's.
    expect(await inTx((tx) => repository.start(tx, outcome(orderId)))).toBe('pending');
    expect(await row(orderId)).toEqual({ status: 'PENDING', charge_id: null, failure_reason: null, source_event_id: first.sourceEventId });

    // Dead-lettered, then replayed: started again, the failure forgotten.
    const deadLetter = outcome(orderId);
    expect(await inTx((tx) => repository.recordFailed(tx, deadLetter, 'declined'))).toBe(true);
    expect(await row(orderId)).toEqual({ status: 'FAILED', charge_id: null, failure_reason: 'declined', source_event_id: deadLetter.sourceEventId });
    const replay = outcome(orderId);
    expect(await inTx((tx) => repository.start(tx, replay))).toBe('restarted');
    expect(await row(orderId)).toEqual({ status: 'PENDING', charge_id: null, failure_reason: null, source_event_id: replay.sourceEventId });
    expect(await inTx((tx) => repository.start(tx, outcome(orderId)))).toBe('pending');

    // Paid: nothing to start, and a late dead letter does not undo it (money taken stays taken).
    await inTx((tx) => repository.recordSucceeded(tx, replay, 'charge-1'));
    const paid = { status: 'SUCCEEDED', charge_id: 'charge-1', failure_reason: null, source_event_id: replay.sourceEventId };
    expect(await row(orderId)).toEqual(paid);
    expect(await inTx((tx) => repository.start(tx, outcome(orderId)))).toBe('succeeded');
    expect(await inTx((tx) => repository.recordFailed(tx, outcome(orderId), 'too late'))).toBe(false);
    expect(await row(orderId)).toEqual(paid);
  });

  it('tells only one of two deliveries starting the same payment at once that it started it', async () => {
    const orderId = randomUUID();
    const first = await db.pool.connect();
    const second = await db.pool.connect();
    try {
      await first.query('BEGIN');
      await second.query('BEGIN');
      expect(await repository.start(first, outcome(orderId))).toBe('started');
      // The second waits on the first's uncommitted row...
      const pid = (await second.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const racing = repository.start(second, outcome(orderId));
      await waitFor('the second start to wait on the first', async () => {
        const { rows: waiting } = await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`, [pid]);
        return waiting.length === 1;
      });
      // ...and, once that commits, finds the payment pending instead of starting (and announcing) it again.
      await first.query('COMMIT');
      expect(await racing).toBe('pending');
      await second.query('COMMIT');
    } finally {
      // Destroyed, not pooled: after a failed expectation they may still hold the row lock in an open transaction.
      first.release(true);
      second.release(true);
    }
    expect(await row(orderId)).toMatchObject({ status: 'PENDING' });
  });
});

