/**
 * DESIGN.md invariant 3: transactions commit in another order than they drew their ids. Both published traps are
 * reproduced here against the real Postgres, and the relay must neither skip nor reorder.
 */
import type { PoolClient } from 'pg';
import { Outbox, type OutboxRelay } from '@outbox-relay/outbox';
import { createTestSchema, type TestSchema, createTestStream, readStream, waitFor, type TestStream, makeRelay } from '@outbox-relay/test-support';

let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;
let relay: OutboxRelay;

beforeEach(async () => {
  db = await createTestSchema('order', { max: 40 });
  ns = await createTestStream('order');
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
  await db.pool.query(`CREATE TABLE "${db.schema}".scratch (id serial primary key)`);
  relay = makeRelay(db, ns, ns.nc);
  await relay.start();
});
afterEach(async () => {
  await relay.stop();
  await outbox.close();
  await ns.drop();
  await db.drop();
});

const ev = (aggregateId: string, n: number) => ({ aggregateType: 'Account', aggregateId, eventType: 'Step', payload: { n } });

async function begin(): Promise<PoolClient> {
  const c = await db.pool.connect();
  await c.query('BEGIN');
  return c;
}

async function streamCount(n: number) {
  await waitFor(`${n} messages`, async () => ((await readStream(ns.nc, ns.stream).catch(() => [])).length >= n ? true : undefined));
  return readStream(ns.nc, ns.stream);
}

/** Resolves once backend `pid` is blocked waiting for a lock (observed, not slept for). */
async function waitUntilBlocked(pid: number) {
  await waitFor('the transaction to block on the aggregate lock', async () => {
    const { rows } = await db.pool.query(`SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1`, [pid]);
    return rows[0]?.wait_event_type === 'Lock' || undefined;
  });
}

describe('commit order versus id order', () => {
  it('trap 1: a lower id committing after a higher id is published, not skipped', async () => {
    const late = await begin();
    const [lateRow] = await outbox.enqueue(late, ev('late', 1));
    const [earlyRow] = await outbox.transaction((tx) => outbox.enqueue(tx, ev('early', 1)));
    outbox.wake();
    // The trap's precondition: the event that commits last holds the lower id.
    expect(BigInt(lateRow!.seq)).toBeLessThan(BigInt(earlyRow!.seq));
    const firstSeen = await streamCount(1);
    expect(firstSeen.map((m) => m.aggregateId)).toEqual(['early']);
    // A cursor relay would now read "seq > early.seq" forever and never see `late`.
    await late.query('COMMIT');
    late.release();
    outbox.wake();
    const all = await streamCount(2);
    expect(all.map((m) => m.aggregateId)).toEqual(['early', 'late']);
  });

  it('trap 2: a transaction with the smaller xid that commits last is still published last for its aggregate', async () => {
    const slow = await begin();
    await slow.query(`INSERT INTO "${db.schema}".scratch DEFAULT VALUES`);
    const slowXid = BigInt((await slow.query('SELECT pg_current_xact_id()::text AS x')).rows[0].x);
    const fast = await begin();
    await fast.query(`INSERT INTO "${db.schema}".scratch DEFAULT VALUES`);
    const fastXid = BigInt((await fast.query('SELECT pg_current_xact_id()::text AS x')).rows[0].x);
    await outbox.enqueue(fast, ev('acct', 1));
    const slowPid = (await slow.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const slowEnqueue = outbox.enqueue(slow, ev('acct', 2));
    await waitUntilBlocked(slowPid);
    await fast.query('COMMIT');
    await slowEnqueue;
    await slow.query('COMMIT');
    fast.release();
    slow.release();
    outbox.wake();
    // The trap's precondition: ordering by (xid8, id) would publish step 2 before step 1.
    expect(slowXid).toBeLessThan(fastXid);
    const messages = await streamCount(2);
    expect(messages.map((m) => (m.data as { n: number }).n)).toEqual([1, 2]);
  });

  it('the aggregate lock in enqueue makes a second writer of one aggregate draw its id after the first commits', async () => {
    // Without the lock (serializeAggregates: false) the trap is real: the writer that inserts first commits last.
    const unlocked = new Outbox({ pool: db.pool, schema: db.schema, serializeAggregates: false });
    const first = await begin();
    const [firstRow] = await unlocked.enqueue(first, ev('raw', 1));
    const second = await begin();
    const [secondRow] = await unlocked.enqueue(second, ev('raw', 2));
    await second.query('COMMIT');
    await first.query('COMMIT');
    first.release();
    second.release();
    expect(BigInt(firstRow!.seq)).toBeLessThan(BigInt(secondRow!.seq)); // seq order != commit order here

    // With the lock (the default) the second writer waits, so its seq is drawn after the first commits.
    const a = await begin();
    await outbox.enqueue(a, ev('locked', 1));
    const b = await begin();
    const bPid = (await b.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const bEnqueue = outbox.enqueue(b, ev('locked', 2));
    await waitUntilBlocked(bPid);
    await a.query('COMMIT');
    await bEnqueue;
    await b.query('COMMIT');
    a.release();
    b.release();
    outbox.wake();
    const messages = await streamCount(4);
    expect(messages.filter((m) => m.aggregateId === 'locked').map((m) => (m.data as { n: number }).n)).toEqual([1, 2]);
    await unlocked.close();
  });

  it('a random concurrent schedule with rollbacks: every committed event once, per aggregate in commit order', async () => {
    await db.pool.query(`CREATE TABLE "${db.schema}".accounts (id text primary key, version int not null default 0)`);
    const aggregates = Array.from({ length: 6 }, (_, i) => `acct-${i}`);
    await db.pool.query(`INSERT INTO "${db.schema}".accounts (id) SELECT unnest($1::text[])`, [aggregates]);
    let committed = 0;
    const worker = async (w: number) => {
      for (let i = 0; i < 40; i++) {
        const aggregate = aggregates[(w * 7 + i * 5) % aggregates.length]!;
        const rollback = (w + i) % 9 === 0;
        const client = await db.pool.connect();
        try {
          await client.query('BEGIN');
          // Some transactions take an xid before the aggregate's lock, and all hold it a little while.
          if (i % 3 === 0) await client.query(`INSERT INTO "${db.schema}".scratch DEFAULT VALUES`);
          const { rows } = await client.query(
            `UPDATE "${db.schema}".accounts SET version = version + 1 WHERE id = $1 RETURNING version`,
            [aggregate],
          );
          await outbox.enqueue(client, ev(aggregate, rows[0].version));
          await client.query(`SELECT pg_sleep($1)`, [((w * 13 + i * 7) % 5) / 1000]);
          await client.query(rollback ? 'ROLLBACK' : 'COMMIT');
          if (!rollback) committed++;
        } finally {
          client.release();
        }
        outbox.wake();
      }
    };
    await Promise.all(Array.from({ length: 12 }, (_, w) => worker(w)));
    const messages = await streamCount(committed);
    expect(messages).toHaveLength(committed);
    const { rows: finals } = await db.pool.query(`SELECT id, version FROM "${db.schema}".accounts`);
    for (const { id, version } of finals) {
      const steps = messages.filter((m) => m.aggregateId === id).map((m) => (m.data as { n: number }).n);
      // Rolled-back versions are reused by the next writer, so the committed versions are exactly 1..final.
      expect(steps).toEqual(Array.from({ length: version }, (_, k) => k + 1));
    }
  });
});
