/**
 * startInboxConsumer against real JetStream and Postgres: duplicates acked once, a crash between commit and ack
 * leaves one effect, failures retried with growing delays and then dead-lettered, database trouble not counted.
 */
import type { PoolClient } from 'pg';
import { Inbox, inboxEventFromMsg, PermanentHandlerError, retryDelayMs, startInboxConsumer, type InboxConsumer, type InboxEvent } from '@outbox-relay/inbox';
import { createTestStream, waitFor, type TestStream, quietLogger } from '@outbox-relay/test-support';
import { createInboxTestDb, type InboxTestDb } from './support/inbox-db';
import { consumerSettled, createDurable, publishEvent } from './support/jetstream';

let db: InboxTestDb;
let ns: TestStream;
let running: InboxConsumer[] = [];
let consumerCount = 0;

beforeEach(async () => {
  db = await createInboxTestDb('inboxc');
  ns = await createTestStream('inboxc');
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
  await ns.drop();
  await db.drop();
});

async function setup(options: { ackWaitMs?: number } = {}) {
  const name = `c${++consumerCount}`;
  const consumer = await createDurable(ns.nc, ns.stream, ns.subjectPrefix, name, options.ackWaitMs);
  const inbox = new Inbox({ pool: db.pool, schema: db.schema, consumer: name });
  return { name, consumer, inbox };
}

const writeEffect = (note: string) => async (tx: PoolClient, e: InboxEvent) => {
  await tx.query(`INSERT INTO "${db.schema}".effects (event_id, note) VALUES ($1, $2)`, [e.eventId, note]);
};

it('acknowledges a re-published event as a duplicate without a second effect', async () => {
  const { name, consumer, inbox } = await setup();
  const c = await startInboxConsumer({ inbox, consumer, handler: writeEffect('paid'), logger: quietLogger });
  running.push(c);
  const original = await publishEvent(ns.nc, ns.subjectPrefix, { aggregateId: 'o-1' });
  // A replay: a new message id (the stream stores it) carrying the same event id.
  await publishEvent(ns.nc, ns.subjectPrefix, { aggregateId: 'o-1', eventId: original.eventId, msgId: 'replay-1', replayOf: original.eventId });
  await waitFor('both messages settled', () => consumerSettled(ns.nc, ns.stream, name));
  expect(c.stats()).toMatchObject({ processed: 1, duplicates: 1, failed: 0 });
  expect(await db.effects()).toEqual([{ event_id: original.eventId, note: 'paid' }]);
});

it('leaves one effect when the process dies after its commit but before its ack', async () => {
  const { name, consumer, inbox } = await setup({ ackWaitMs: 1000 });
  const event = await publishEvent(ns.nc, ns.subjectPrefix, { aggregateId: 'o-2' });
  // The "crashed" worker: it receives the message, commits its effect and inbox row, and never acks.
  const m = await consumer.next({ expires: 5000 });
  expect(m).not.toBeNull();
  await inbox.handleOnce(inboxEventFromMsg(m!), writeEffect('charged'));

  // The restarted worker gets the redelivery once the ack wait has passed.
  const c = await startInboxConsumer({ inbox, consumer, handler: writeEffect('charged again'), logger: quietLogger });
  running.push(c);
  await waitFor('the redelivery to be settled', async () => c.stats().duplicates === 1 && (await consumerSettled(ns.nc, ns.stream, name)) ? true : undefined);
  expect(c.stats()).toMatchObject({ processed: 0, duplicates: 1 });
  expect(await db.effects()).toEqual([{ event_id: event.eventId, note: 'charged' }]);
});

it('retries a failing handler with growing delays, then dead-letters it with the dead-letter effects', async () => {
  const { name, consumer, inbox } = await setup();
  const attempts: number[] = [];
  const backoff = { minMs: 150, maxMs: 2000 };
  const c = await startInboxConsumer({
    inbox,
    consumer,
    backoff,
    maxRetries: 3,
    handler: async () => {
      attempts.push(Date.now());
      throw new Error('card declined');
    },
    onDeadLetter: async (tx, e, reason) => writeEffect(`FAILED: ${reason}`)(tx, e),
    logger: quietLogger,
  });
  running.push(c);
  const event = await publishEvent(ns.nc, ns.subjectPrefix, { aggregateId: 'o-3' });
  await waitFor('the dead letter', () => c.stats().deadLettered === 1 || undefined, 20_000);
  await waitFor('the message acked', () => consumerSettled(ns.nc, ns.stream, name));

  expect(attempts).toHaveLength(4);
  const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
  gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(retryDelayMs(i + 1, backoff) - 20));
  expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
  expect(c.stats()).toMatchObject({ processed: 0, failed: 4, retried: 3, deadLettered: 1 });

  const { rows } = await db.pool.query(`SELECT event_id, attempts, reason, resolved_at FROM "${db.schema}".inbox_dead_letters`);
  expect(rows).toEqual([{ event_id: event.eventId, attempts: 4, reason: 'Error: card declined (gave up after 4 attempts)', resolved_at: null }]);
  expect((await db.effects()).map((e) => e.note)).toEqual(['FAILED: Error: card declined (gave up after 4 attempts)']);
});

it('dead-letters at once on a PermanentHandlerError and on a payload that is not JSON', async () => {
  const { name, consumer, inbox } = await setup();
  const handled: string[] = [];
  const c = await startInboxConsumer({
    inbox,
    consumer,
    handler: async (_tx, e) => {
      handled.push(e.eventId);
      throw new PermanentHandlerError('amount is negative');
    },
    logger: quietLogger,
  });
  running.push(c);
  const invalid = await publishEvent(ns.nc, ns.subjectPrefix, { aggregateId: 'o-4' });
  const garbage = await publishEvent(ns.nc, ns.subjectPrefix, { aggregateId: 'o-5', raw: new TextEncoder().encode('{not json') });
  await waitFor('both dead-lettered and acked', async () => c.stats().deadLettered === 2 && (await consumerSettled(ns.nc, ns.stream, name)) ? true : undefined);
  expect(handled).toEqual([invalid.eventId]);
  const { rows } = await db.pool.query(`SELECT event_id, attempts, reason, payload, raw_payload FROM "${db.schema}".inbox_dead_letters ORDER BY id`);
  expect(rows).toEqual([
    { event_id: invalid.eventId, attempts: 1, reason: 'PermanentHandlerError: amount is negative', payload: { orderId: 'o-4' }, raw_payload: null },
    { event_id: garbage.eventId, attempts: 1, reason: expect.stringMatching(/^payload is not JSON/), payload: null, raw_payload: '{not json' },
  ]);
});

it('does not count database failures against the retries: the event is processed once the database is back', async () => {
  const { name, consumer, inbox } = await setup();
  const t = `"${db.schema}"`;
  await db.pool.query(`ALTER TABLE ${t}.inbox RENAME TO inbox_away`);
  const c = await startInboxConsumer({ inbox, consumer, maxRetries: 0, backoff: { minMs: 50, maxMs: 100 }, handler: writeEffect('done'), logger: quietLogger });
  running.push(c);
  const event = await publishEvent(ns.nc, ns.subjectPrefix, { aggregateId: 'o-6' });
  await waitFor('several failed deliveries', () => c.stats().infrastructureErrors >= 3 || undefined);
  await db.pool.query(`ALTER TABLE ${t}.inbox_away RENAME TO inbox`);
  await waitFor('processed', async () => c.stats().processed === 1 && (await consumerSettled(ns.nc, ns.stream, name)) ? true : undefined);
  // maxRetries 0 would have dead-lettered at the first counted failure: none was counted.
  expect(c.stats()).toMatchObject({ failed: 0, deadLettered: 0 });
  expect(await db.effects()).toEqual([{ event_id: event.eventId, note: 'done' }]);
});

it('processes different aggregates in parallel and one aggregate strictly in order', async () => {
  const { name, consumer, inbox } = await setup();
  const seen = new Map<string, number[]>();
  let active = 0;
  let peak = 0;
  const c = await startInboxConsumer({
    inbox,
    consumer,
    concurrency: 4,
    handler: async (tx, e) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 5));
      const n = (e.payload as { n: number }).n;
      seen.set(e.aggregateId!, [...(seen.get(e.aggregateId!) ?? []), n]);
      await writeEffect(String(n))(tx, e);
      active--;
    },
    logger: quietLogger,
  });
  running.push(c);
  for (let n = 0; n < 15; n++) {
    for (const a of ['a', 'b', 'c', 'd']) await publishEvent(ns.nc, ns.subjectPrefix, { aggregateId: a, payload: { n } });
  }
  await waitFor('all 60 processed', async () => c.stats().processed === 60 && (await consumerSettled(ns.nc, ns.stream, name)) ? true : undefined);
  for (const a of ['a', 'b', 'c', 'd']) expect(seen.get(a)).toEqual(Array.from({ length: 15 }, (_, i) => i));
  expect(peak).toBeGreaterThan(1);
});

it('hands the handler the payload as it arrived (payloadText) and keeps those bytes in a dead letter', async () => {
  const { name, consumer, inbox } = await setup();
  // Whitespace, key order, an escape and a number past double precision: what a re-serialization would change.
  const signed = '{ "z": 1,\n "a": 12345678901234567890.5, "s": "\\u00e9" }';
  const seen: Array<string | undefined> = [];
  const c = await startInboxConsumer({
    inbox,
    consumer,
    handler: async (_tx, e) => {
      seen.push(e.payloadText);
      throw new PermanentHandlerError('signature does not match');
    },
    logger: quietLogger,
  });
  running.push(c);
  const event = await publishEvent(ns.nc, ns.subjectPrefix, { aggregateId: 'o-6', raw: new TextEncoder().encode(signed) });
  await waitFor('dead-lettered and acked', async () => c.stats().deadLettered === 1 && (await consumerSettled(ns.nc, ns.stream, name)) ? true : undefined);
  expect(seen).toEqual([signed]);
  const { rows } = await db.pool.query(`SELECT event_id, payload::text AS text FROM "${db.schema}".inbox_dead_letters`);
  expect(rows).toEqual([{ event_id: event.eventId, text: signed }]);
});
