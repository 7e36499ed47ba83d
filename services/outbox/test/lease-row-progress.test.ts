/**
 * Progress kept per batch on the lease row (migration 1733900000000): read_upto, skipped seqs and the checkpoint that
 * finds seqs final. What each test would catch if the mechanism broke:
 * - a seq passed while its writer was still open, committed before the mark that records it: without the read's look
 *   behind the cursor (from the final_upto of the read that passed it) the aggregate's next event goes out first;
 * - events left out of a mark (not acknowledged) stay pending, however far read_upto moves;
 * - a rolled-back seq leaves the skipped list once no writer that could still commit it holds the partition map;
 * - an INSERT by hand takes the partition map like every writer (else the checkpoint would not know it);
 * - a schema migrated from marks per event publishes what was pending and nothing that was published, and fences
 *   relays of the previous version off; the way back marks the old way what was published since.
 */
import { Client } from 'pg';
import { OutboxReader, type Fence } from '@outbox-relay/outbox/internal';
import { migrateOutbox, outboxTables, sweepOutbox } from '@outbox-relay/outbox';
import { countPendingEvents, createTestSchema, makeRelay, readStream, relayTestBed, TEST_DATABASE_URL, undoOutboxMigrationsThrough, waitFor } from '@outbox-relay/test-support';

const bed = relayTestBed('leaseprog');
const t = () => outboxTables(bed.db.schema);

interface LeaseProgress {
  read_upto: string;
  skipped: string[];
  final_upto: string;
}

async function progress(partition = 0): Promise<LeaseProgress> {
  const { rows } = await bed.db.pool.query<LeaseProgress>(
    `SELECT read_upto::text, skipped::text[] AS skipped, final_upto::text FROM ${t().partitions} WHERE partition = $1`,
    [partition],
  );
  return rows[0]!;
}

async function pendingSeqs(): Promise<string[]> {
  const { rows } = await bed.db.pool.query<{ seq: string }>(`SELECT seq::text FROM ${t().pendingEvents} ORDER BY seq`);
  return rows.map((r) => r.seq);
}

async function connect(): Promise<Client> {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** A writer's transaction left open after enqueueing one event of `aggregateId`; returns its client and seq. */
async function openWriter(aggregateId: string): Promise<{ client: Client; seq: string }> {
  const client = await connect();
  await client.query('BEGIN');
  const { rows } = await client.query<{ seq: string }>(`SELECT seq::text FROM "${bed.db.schema}".enqueue('Order', $1, 'Placed', '{}')`, [aggregateId]);
  return { client, seq: rows[0]!.seq };
}

async function enqueue(aggregateId: string, eventType: string): Promise<string> {
  const { rows } = await bed.db.pool.query<{ seq: string }>(`SELECT seq::text FROM "${bed.db.schema}".enqueue('Order', $1, $2, '{}')`, [aggregateId, eventType]);
  return rows[0]!.seq;
}

it('a relay publishes an event committed late after the events it passed, and before its aggregate\'s next', async () => {
  const late = await openWriter('x');
  try {
    await enqueue('y', 'Placed');
    const relay = makeRelay(bed.db, bed.ns, bed.ns.nc);
    bed.relays.push(relay);
    await relay.start();
    await waitFor('y in the stream', async () => ((await readStream(bed.ns.nc, bed.ns.stream).catch(() => [])).length === 1 ? true : undefined));
    await late.client.query('COMMIT');
    await enqueue('x', 'Shipped');
  } finally {
    await late.client.end();
  }
  await waitFor('nothing pending', async () => ((await pendingSeqs()).length === 0 ? true : undefined));
  const messages = await readStream(bed.ns.nc, bed.ns.stream);
  expect(messages.map((m) => `${m.aggregateId} ${m.eventType}`)).toEqual(['y Placed', 'x Placed', 'x Shipped']);
});

describe('marks by hand (the relay fixture holds the lease)', () => {
  const fence: Fence = { partition: 0, holder: 'lease-row-progress', epoch: 1 };
  const reader = () => new OutboxReader(bed.db.pool, bed.db.schema);
  const mark = (seqs: string[]) => reader().markSeqsPublished(fence, { seqs, lastSeq: seqs[seqs.length - 1]!, lastId: '00000000-0000-0000-0000-000000000001' }, 1);
  beforeEach(async () => {
    await bed.db.pool.query(
      `UPDATE ${t().partitions} SET holder = $1, epoch = $2, expires_at = now() + interval '1 hour' WHERE partition = 0`,
      [fence.holder, fence.epoch],
    );
  });

  it('looks behind its cursor for a seq passed while open and committed before the mark that records it', async () => {
    const open = await openWriter('x');
    const y = await enqueue('y', 'Placed');
    // A checkpoint taken while the writer is open; it matures once the writer has ended.
    await reader().settleProgress(fence);
    const first = await reader().readPendingBatch(fence, 100);
    expect(first?.records.map((r) => r.seq)).toEqual([y]);
    await open.client.query('COMMIT');
    await open.client.end();
    const next = await enqueue('x', 'Shipped');
    // Meanwhile another mark (an earlier batch's, or the idle settle) finds the open writer gone: every seq up to
    // the checkpoint is final now, the late one included, and y's mark (with the late seq) is still to come.
    await reader().settleProgress(fence);
    expect(BigInt((await progress()).final_upto)).toBeGreaterThan(BigInt(open.seq));
    // Behind the cursor from the final_upto the first read saw: the late event, then the aggregate's next.
    const position = { from: y, rescanFrom: first!.finalUpto };
    expect((await reader().readPendingBatch(fence, 100, [y], position))?.records.map((r) => r.seq)).toEqual([open.seq, next]);
    // From the lease row's final_upto, the read would go past the late event: the order the look behind keeps.
    expect((await reader().readPendingBatch(fence, 100, [y], { from: y, rescanFrom: null }))?.records.map((r) => r.seq)).toEqual([next]);
  });

  it('looks at the checkpoint (pg_locks) at most every p_checkpoint_every_ms, and a settle always looks', async () => {
    const mark = (seq: string) =>
      bed.db.pool.query(`SELECT "${bed.db.schema}".outbox_mark(0, $1, $2, $3::bigint[], $4, gen_random_uuid(), 1, false, 3600000)`, [
        fence.holder,
        fence.epoch,
        `{${seq}}`,
        seq,
      ]);
    const checkedAt = async () =>
      (await bed.db.pool.query<{ at: string | null }>(`SELECT ck_checked_at::text AS at FROM ${t().partitions} WHERE partition = 0`)).rows[0]!.at;
    await mark(await enqueue('k-1', 'Placed'));
    const first = await checkedAt();
    expect(first).not.toBeNull();
    await mark(await enqueue('k-2', 'Placed'));
    expect(await checkedAt()).toBe(first);
    await reader().settleProgress(fence);
    expect(await checkedAt()).not.toBe(first);
  });

  it('keeps pending the events a mark leaves out, and reads them first', async () => {
    const seqs = [];
    for (let i = 1; i <= 5; i++) seqs.push(await enqueue(`a-${i}`, 'Placed'));
    const read = await reader().readPending(fence, 100);
    expect(read?.map((r) => r.seq)).toEqual(seqs);
    // The third was not acknowledged: read_upto passes it, and it stays pending.
    await mark([seqs[0]!, seqs[1]!, seqs[3]!, seqs[4]!]);
    expect(await pendingSeqs()).toEqual([seqs[2]]);
    expect(await progress()).toMatchObject({ read_upto: seqs[4], skipped: [seqs[2]] });
    const next = await enqueue('a-6', 'Placed');
    expect((await reader().readPending(fence, 100))?.map((r) => r.seq)).toEqual([seqs[2], next]);
    await mark([seqs[2]!, next]);
    expect(await pendingSeqs()).toEqual([]);
    expect((await progress()).skipped).toEqual([]);
  });

  it('forgets a rolled-back seq once no writer that held the partition map when it was passed is left', async () => {
    const before = await enqueue('b-1', 'Placed');
    const open = await openWriter('b-2');
    const after = await enqueue('b-3', 'Placed');
    expect((await reader().readPending(fence, 100))?.map((r) => r.seq)).toEqual([before, after]);
    await mark([before, after]);
    // The open writer's seq may still commit: it is kept.
    expect((await progress()).skipped).toEqual([open.seq]);
    await reader().settleProgress(fence);
    expect((await progress()).skipped).toEqual([open.seq]);
    await open.client.query('ROLLBACK');
    await open.client.end();
    // The checkpoint taken while it ran (at the mark) matures at the next one, which drops the seq.
    await reader().settleProgress(fence);
    const settled = await progress();
    expect(settled.skipped).toEqual([]);
    expect(BigInt(settled.final_upto)).toBeGreaterThanOrEqual(BigInt(after));
    expect(await pendingSeqs()).toEqual([]);
  });

  it('never passes over an event of another writer that commits after the mark', async () => {
    const open = await openWriter('c-1');
    const after = await enqueue('c-2', 'Placed');
    await mark([after]);
    await reader().settleProgress(fence);
    await open.client.query('COMMIT');
    await open.client.end();
    await reader().settleProgress(fence);
    await reader().settleProgress(fence);
    expect(await pendingSeqs()).toEqual([open.seq]);
    expect((await reader().readPending(fence, 100))?.map((r) => r.seq)).toEqual([open.seq]);
  });
});

it('an INSERT by hand holds the partition map until it ends, like every writer', async () => {
  const client = await connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO ${t().outbox} (id, partition, aggregate_type, aggregate_id, event_type, payload) VALUES (gen_random_uuid(), 0, 'Order', 'h-1', 'Placed', '{}')`,
    );
    const { rows } = await bed.db.pool.query<{ writers: string[] }>(`SELECT "${bed.db.schema}".outbox_writers() AS writers`);
    const own = (await client.query<{ vxid: string }>(`SELECT virtualtransaction AS vxid FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'virtualxid'`)).rows[0]!.vxid;
    expect(rows[0]!.writers).toEqual([own]);
    await client.query('COMMIT');
    expect((await bed.db.pool.query(`SELECT "${bed.db.schema}".outbox_writers() AS writers`)).rows[0].writers).toEqual([]);
  } finally {
    await client.end();
  }
});

it('a schema migrated from marks per event publishes only what was pending, and retention finds the old events by their marks', async () => {
  const { pool, schema } = bed.db;
  const MIGRATION = '1733900000000_progress_on_lease_row';
  expect(await undoOutboxMigrationsThrough(pool, schema, MIGRATION)).toEqual([MIGRATION]);
  const seqs: string[] = [];
  for (let i = 1; i <= 6; i++) seqs.push(await enqueue(`m-${i}`, 'Placed'));
  // Published the old way, two hours ago, under epoch 3: the first two and the fourth (after a late third).
  await pool.query(`UPDATE ${t().outbox} SET published_at = now() - interval '2 hours', published_epoch = 3 WHERE seq = ANY($1::bigint[])`, [
    [seqs[0], seqs[1], seqs[3]],
  ]);
  const { ran } = await migrateOutbox({ pool, schema });
  expect(ran).toEqual([MIGRATION]);
  // Relays of the previous version can no longer read: their function is gone.
  await expect(pool.query(`SELECT * FROM "${schema}".outbox_read_pending(0, 'old', 1, '{}', 100, 1048576)`)).rejects.toMatchObject({ code: '42883' });
  expect(await pendingSeqs()).toEqual([seqs[2], seqs[4], seqs[5]]);
  const { rows: published } = await pool.query(`SELECT seq::text, published_epoch::int AS epoch FROM ${t().publishedEvents} ORDER BY seq`);
  expect(published).toEqual([seqs[0], seqs[1], seqs[3]].map((seq) => ({ seq, epoch: 3 })));

  const relay = makeRelay(bed.db, bed.ns, bed.ns.nc);
  bed.relays.push(relay);
  await relay.start();
  await waitFor('nothing pending', async () => ((await pendingSeqs()).length === 0 ? true : undefined));
  expect((await readStream(bed.ns.nc, bed.ns.stream)).map((m) => m.aggregateId)).toEqual(['m-3', 'm-5', 'm-6']);
  await relay.stop();

  const swept = await sweepOutbox(pool, schema, { publishedMs: 3_600_000, deadLetterMs: 3_600_000, batchSize: 100 });
  expect(swept.published).toBe(3);
  const { rows: left } = await pool.query(`SELECT seq::text FROM ${t().outbox} ORDER BY seq`);
  expect(left.map((r) => r.seq)).toEqual([seqs[2], seqs[4], seqs[5]]);

  // Back to the previous version: what was published since is marked the old way, so its relays would not publish
  // it again.
  expect(await undoOutboxMigrationsThrough(pool, schema, MIGRATION)).toEqual([MIGRATION]);
  const { rows: unmarked } = await pool.query(`SELECT count(*)::int AS n FROM ${t().outbox} WHERE published_at IS NULL`);
  expect(unmarked[0].n).toBe(0);
  await migrateOutbox({ pool, schema });
});

it('with four partitions and writers running, every partition ends with nothing skipped', async () => {
  const db = await createTestSchema('leaseprog4', { partitions: 4 });
  const relay = makeRelay(db, bed.ns, bed.ns.nc);
  try {
    await relay.start();
    // Four writers at once, so reads pass seqs of transactions still open and of the other partitions.
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; i < 50; i++) {
          await db.pool.query(`SELECT "${db.schema}".enqueue('Order', $1, 'Placed', '{}')`, [`w${w}-${i % 7}`]);
        }
      }),
    );
    await waitFor('nothing pending', async () => ((await countPendingEvents(db.pool, db.schema)) === 0 ? true : undefined));
    const { rows } = await db.pool.query<{ partition: number; skipped: string[]; behind: number }>(
      `SELECT l.partition, l.skipped::text[] AS skipped,
              (SELECT count(*)::int FROM "${db.schema}".outbox o WHERE o.partition = l.partition AND o.seq > l.read_upto) AS behind
       FROM "${db.schema}".outbox_partitions l ORDER BY l.partition`,
    );
    expect(rows).toEqual([0, 1, 2, 3].map((partition) => ({ partition, skipped: [], behind: 0 })));
    expect(await readStream(bed.ns.nc, bed.ns.stream)).toHaveLength(200);
    // Idle, each partition settles its progress (about once a second): read_upto and final_upto reach the
    // sequence's head, over the seqs the other partitions drew, with no event of its own to mark.
    await waitFor(
      'every partition settled at the head',
      async () => {
        const { rows: lagging } = await db.pool.query(
          `SELECT partition FROM "${db.schema}".outbox_partitions
           WHERE read_upto <> "${db.schema}".outbox_sequence_head() OR final_upto <> "${db.schema}".outbox_sequence_head()`,
        );
        return lagging.length === 0 || undefined;
      },
      30_000,
      200,
    );
  } finally {
    await relay.stop();
    await db.drop();
  }
});
