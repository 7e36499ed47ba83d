/**
 * No duplicate in the stream whatever the delay (issue 13, case 4). The stream's `Nats-Msg-Id` dedup only covers
 * its duplicate window; events that were acknowledged but not yet marked published are re-published later than
 * that when marks fail for long, or when the only relay is gone for long. The relay must look at what the stream
 * already holds before it publishes again. Here the window is 2 s and every wait is longer than it.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { Pool } from 'pg';
import { Outbox, type MessageHeaderMode, type OutboxRelay } from '@outbox-relay/outbox';
import { createTestSchema, type TestSchema, TEST_DATABASE_URL, createTestStream, readStream, waitFor, type TestStream, makeRelay, countPendingEvents } from '@outbox-relay/test-support';

const WINDOW_MS = 2000;
const timings = { leaseMs: 200, renewMs: 50, duplicateWindowMs: WINDOW_MS, backoffMinMs: 20, backoffMaxMs: 200, publishTimeoutMs: 1000 };

let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;
const cleanups: Array<() => Promise<unknown>> = [];

beforeEach(async () => {
  db = await createTestSchema('sdedup');
  ns = await createTestStream('sdedup');
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
  const jsm = await jetstreamManager(ns.nc);
  await jsm.streams.add({ name: ns.stream, subjects: [`${ns.subjectPrefix}.>`], duplicate_window: nanos(WINDOW_MS) });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await outbox.close();
  await ns.drop();
  await db.drop();
});

const t = () => `"${db.schema}"`;

/** Every mark of events (each records a row in outbox_marks) fails in Postgres until `allow()`: a database in trouble for marks. */
async function refuseMarks(): Promise<{ allow: () => Promise<void> }> {
  await db.pool.query(`
    CREATE FUNCTION ${t()}.refuse_mark() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'marks refused by the test'; END $$;
    CREATE TRIGGER refuse_marks BEFORE INSERT ON ${t()}.outbox_marks FOR EACH ROW EXECUTE FUNCTION ${t()}.refuse_mark();`);
  return { allow: async () => void (await db.pool.query(`DROP TRIGGER refuse_marks ON ${t()}.outbox_marks`)) };
}

/**
 * One transaction, so the relay reads the steps as one batch and sends them before its first mark; while marks fail
 * it publishes nothing more (it stops at the first failure, and its look at the stream cannot record what it found
 * either). How many of the steps the stream holds before that stop is not the point: a term lost mid-batch (a renewal
 * late on a loaded host, with these short leases) stops after the first. The tests wait for the first to be stored
 * and then require every step exactly once.
 */
async function enqueueSteps(aggregate: string, steps: number): Promise<string[]> {
  const events = Array.from({ length: steps }, (_, i) => ({ aggregateType: 'Acct', aggregateId: aggregate, eventType: 'Step', payload: { n: i + 1 } }));
  return (await outbox.transaction((tx) => outbox.enqueue(tx, events))).map((row) => row.id);
}

async function stored(): Promise<number> {
  const info = await (await jetstreamManager(ns.nc)).streams.info(ns.stream);
  return info.state.messages;
}

async function drained(): Promise<void> {
  await waitFor('every event marked published', async () => (await countPendingEvents(db.pool, db.schema)) === 0 || undefined, 30_000);
}

/** The passage of the duplicate window is the condition itself: nothing to await but time. */
const pastTheWindow = () => new Promise((resolve) => setTimeout(resolve, WINDOW_MS * 1.5));

function start(pool: Pool = db.pool, messageHeaders: MessageHeaderMode = 'outbox'): OutboxRelay {
  const relay = makeRelay({ ...db, pool }, ns, ns.nc, { ...timings, messageHeaders });
  cleanups.push(() => relay.stop().catch(() => undefined));
  return relay;
}

it('marks that fail for longer than the duplicate window: the acknowledged events are stored once', async () => {
  const marks = await refuseMarks();
  const relay = start();
  await relay.start();
  const ids = await enqueueSteps('A', 3);
  await waitFor('the first step acknowledged by the stream', async () => ((await stored()) >= 1 ? true : undefined));
  await pastTheWindow();
  await marks.allow();
  await drained();
  const messages = await readStream(ns.nc, ns.stream);
  expect(messages.map((m) => m.eventId)).toEqual(ids);
});

/** A pool that can "die" with its process: once `kill()` is called every query fails at once, so it neither marks nor releases. */
function dyingPool(): { pool: Pool; kill: () => void } {
  const dying = new Pool({ connectionString: TEST_DATABASE_URL, max: 4 });
  dying.on('error', () => undefined);
  let dead = false;
  const query = dying.query.bind(dying);
  dying.query = ((...args: Parameters<Pool['query']>) => (dead ? Promise.reject(new Error('process died')) : query(...args))) as Pool['query'];
  cleanups.push(() => dying.end());
  return { pool: dying, kill: () => (dead = true) };
}

// The header mode may change between terms (a restart with another OUTBOX_MESSAGE_HEADERS, a rolling update): a
// successor must recognise its predecessor's messages in either mode (Outbox-Partition or ce-outboxpartition).
it.each([
  ['outbox', 'outbox'],
  ['cloudevents', 'outbox'],
  ['outbox', 'cloudevents'],
] as const)('the only relay (headers %s) dies after publishing, before marking, and a new one (headers %s) starts after the window: stored once', async (before, after) => {
  const marks = await refuseMarks();
  const dying = dyingPool();
  const first = start(dying.pool, before);
  await first.start();
  const ids = await enqueueSteps('B', 3);
  await waitFor('the first step acknowledged by the stream', async () => ((await stored()) >= 1 ? true : undefined));
  dying.kill();
  await first.stop().catch(() => undefined);
  await marks.allow();
  await pastTheWindow();
  const second = start(db.pool, after);
  await second.start();
  const later = await enqueueSteps('B', 1);
  await drained();
  const messages = await readStream(ns.nc, ns.stream);
  expect(messages.map((m) => m.eventId)).toEqual([...ids, ...later]);
});

it('each mark moves where to look to past the stream end, and a term that ends with everything marked leaves nothing to look at', async () => {
  const relay = start();
  await relay.start();
  await enqueueSteps('C', 3);
  await drained();
  const checkFrom = async () =>
    (await db.pool.query(`SELECT check_stream_from::int AS from FROM ${t()}.outbox_partitions WHERE partition = 0`)).rows[0].from as number | null;
  // Everything sent is acknowledged and marked: a successor would look from just past what the stream holds.
  expect(await checkFrom()).toBe((await jetstreamManager(ns.nc).then((jsm) => jsm.streams.info(ns.stream))).state.last_seq + 1);
  await relay.stop();
  // A graceful end: its successor skips the look.
  expect(await checkFrom()).toBeNull();
});
