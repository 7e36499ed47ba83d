/** The Inbox itself, against real Postgres: one effect per (consumer, event), whatever arrives twice or fails. */
import { randomUUID } from 'node:crypto';
import { HandlerFailedError, Inbox } from '@outbox-relay/inbox';
import { createInboxTestDb, testEvent, type InboxTestDb } from './support/inbox-db';

let db: InboxTestDb;
let inbox: Inbox;

beforeAll(async () => {
  db = await createInboxTestDb('inbox');
  inbox = new Inbox({ pool: db.pool, schema: db.schema, consumer: 'payments' });
});
afterAll(() => db.drop());

const effect = (note: string) => async (tx: import('pg').PoolClient, e: { eventId: string }) => {
  await tx.query(`INSERT INTO "${db.schema}".effects (event_id, note) VALUES ($1, $2)`, [e.eventId, note]);
  return note;
};
const effectsOf = async (eventId: string) => (await db.effects()).filter((r) => r.event_id === eventId).map((r) => r.note);

it('runs the handler once per event: a second delivery is a duplicate and changes nothing', async () => {
  const id = randomUUID();
  await expect(inbox.handleOnce(testEvent(id), effect('first'))).resolves.toEqual({ status: 'processed', value: 'first' });
  await expect(inbox.handleOnce(testEvent(id, { deliveryCount: 2 }), effect('second'))).resolves.toEqual({ status: 'duplicate' });
  expect(await effectsOf(id)).toEqual(['first']);
  expect(await inbox.isProcessed(id)).toBe(true);
});

it('keeps one record per consumer: another consumer processes the same event for itself', async () => {
  const id = randomUUID();
  const audit = new Inbox({ pool: db.pool, schema: db.schema, consumer: 'audit' });
  await inbox.handleOnce(testEvent(id), effect('payments'));
  await expect(audit.handleOnce(testEvent(id), effect('audit'))).resolves.toMatchObject({ status: 'processed' });
  expect(await effectsOf(id)).toEqual(['payments', 'audit']);
});

it('serializes two concurrent deliveries of one event: the second waits, then sees a duplicate', async () => {
  const id = randomUUID();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let entered!: () => void;
  const firstInside = new Promise<void>((resolve) => (entered = resolve));
  const first = inbox.handleOnce(testEvent(id), async (tx, e) => {
    entered();
    await gate;
    return effect('first')(tx, e);
  });
  await firstInside;
  let secondSettled = false;
  const second = inbox.handleOnce(testEvent(id, { deliveryCount: 2 }), effect('second')).finally(() => (secondSettled = true));
  // The second is blocked on the first's uncommitted inbox row: Postgres shows its INSERT waiting on a lock.
  const waiting = async () =>
    (
      await db.pool.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
        [`%"${db.schema}".inbox %`],
      )
    ).rows[0].n;
  for (let i = 0; i < 100 && (await waiting()) === 0; i++) await new Promise((r) => setTimeout(r, 20));
  expect(await waiting()).toBeGreaterThan(0);
  expect(secondSettled).toBe(false);
  release();
  await expect(first).resolves.toMatchObject({ status: 'processed' });
  await expect(second).resolves.toEqual({ status: 'duplicate' });
  expect(await effectsOf(id)).toEqual(['first']);
});

it('rolls the effects and the inbox row back when the handler fails, so the next delivery processes', async () => {
  const id = randomUUID();
  const failing = async (tx: import('pg').PoolClient, e: { eventId: string }) => {
    await effect('half-done')(tx, e);
    throw new Error('gateway unavailable');
  };
  const error = await inbox.handleOnce(testEvent(id), failing).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(HandlerFailedError);
  expect(error).toMatchObject({ consumer: 'payments', eventId: id, cause: expect.objectContaining({ message: 'gateway unavailable' }) });
  expect(await effectsOf(id)).toEqual([]);
  expect(await inbox.isProcessed(id)).toBe(false);

  expect(await inbox.recordFailure(testEvent(id), error)).toBe(1);
  expect(await inbox.recordFailure(testEvent(id), error)).toBe(2);
  await expect(inbox.handleOnce(testEvent(id, { deliveryCount: 3 }), effect('retried'))).resolves.toMatchObject({ status: 'processed' });
  expect(await effectsOf(id)).toEqual(['retried']);
  const { rowCount } = await db.pool.query(`SELECT 1 FROM "${db.schema}".inbox_failures WHERE event_id = $1`, [id]);
  expect(rowCount).toBe(0);
});

it('dead-letters atomically: inbox row, dead letter and effects together, or none of them', async () => {
  const id = randomUUID();
  await inbox.recordFailure(testEvent(id), new Error('declined'));
  // Effects that fail leave nothing behind.
  await expect(
    inbox.deadLetter(testEvent(id), 'declined', 4, async (tx, e) => {
      await effect('order FAILED')(tx, e);
      throw new Error('boom');
    }),
  ).rejects.toThrow('boom');
  expect(await effectsOf(id)).toEqual([]);
  expect(await inbox.isProcessed(id)).toBe(false);

  const outcome = await inbox.deadLetter(testEvent(id), 'declined (gave up after 4 attempts)', 4, async (tx, e) => {
    await effect('order FAILED')(tx, e);
  });
  expect(outcome).toEqual({ status: 'dead_lettered', id: expect.stringMatching(/^\d+$/) });
  const { rows } = await db.pool.query(
    `SELECT d.consumer, d.event_type, d.aggregate_id, d.reason, d.attempts, d.payload, i.outcome,
            (SELECT count(*)::int FROM "${db.schema}".inbox_failures f WHERE f.event_id = d.event_id) AS failures
     FROM "${db.schema}".inbox_dead_letters d JOIN "${db.schema}".inbox i USING (consumer, event_id) WHERE d.event_id = $1`,
    [id],
  );
  expect(rows).toEqual([
    { consumer: 'payments', event_type: 'OrderCreated', aggregate_id: 'o-1', reason: 'declined (gave up after 4 attempts)', attempts: 4, payload: { orderId: 'o-1' }, outcome: 'dead_lettered', failures: 0 },
  ]);
  expect(await effectsOf(id)).toEqual(['order FAILED']);
  // Settled: a late redelivery neither processes nor dead-letters again.
  await expect(inbox.handleOnce(testEvent(id, { deliveryCount: 5 }), effect('late'))).resolves.toEqual({ status: 'duplicate' });
  await expect(inbox.deadLetter(testEvent(id), 'again', 5)).resolves.toEqual({ status: 'duplicate' });
  expect(await effectsOf(id)).toEqual(['order FAILED']);
});
