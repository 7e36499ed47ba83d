/**
 * The event state views (migration 1733800000000_event_state_views.sql): outbox_pending and outbox_published are the
 * one definition of "pending" and "published" for every reader outside the relay's read and mark. Events here are
 * written by the real writer and marked by the real reader (OutboxReader.markPublished) under leases taken by the
 * real election, so the views are held against what the relay itself does, whatever way it records its progress.
 */
import { Outbox, type EnqueuedEvent, type OutboxEventInput } from '@outbox-relay/outbox';
import { LeaseElector, OutboxReader, type Fence, type OutboxRecord } from '@outbox-relay/outbox/internal';
import { createTestSchema, quietLogger, type TestSchema } from '@outbox-relay/test-support';

const PARTITIONS = 2;
const EVENTS = 2000;

let db: TestSchema;
let outbox: Outbox;
let reader: OutboxReader;
const electors: LeaseElector[] = [];

beforeAll(async () => {
  db = await createTestSchema('stateviews', { partitions: PARTITIONS });
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
  reader = new OutboxReader(db.pool, db.schema);
});
afterAll(async () => {
  for (const elector of electors) await elector.stop();
  await outbox?.close();
  await db?.drop();
});

const view = (name: 'outbox_pending' | 'outbox_published') => `"${db.schema}".${name}`;

/** Takes the partition's lease as a relay does (an election, which bumps the epoch); the fence to mark under. */
async function lead(partition: number, instanceId: string): Promise<{ fence: Fence; elector: LeaseElector }> {
  const elector = new LeaseElector({ pool: db.pool, schema: db.schema, partition, instanceId, leaseMs: 60_000, renewMs: 10_000, logger: quietLogger });
  electors.push(elector);
  const elected = new Promise<number>((resolve) => elector.once('elected', (epoch) => resolve(epoch)));
  elector.start();
  return { fence: { partition, holder: instanceId, epoch: await elected }, elector };
}

/** The partition's pending events as the relay reads them (its own read, under the fence). */
async function relayReads(fence: Fence): Promise<OutboxRecord[]> {
  const records = await reader.readPending(fence, EVENTS);
  if (records === null) throw new Error(`the fence of partition ${fence.partition} no longer holds`);
  return records;
}

function event(i: number): OutboxEventInput {
  return { aggregateType: 'Acct', aggregateId: `a${i % 40}`, eventType: 'Step', payload: { i }, headers: { tenant: `t${i % 3}` } };
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

function nodesOf(plan: unknown): PlanNode[] {
  const all: PlanNode[] = [];
  const walk = (node: PlanNode) => {
    all.push(node);
    node.Plans?.forEach(walk);
  };
  walk((plan as [{ Plan: PlanNode }])[0].Plan);
  return all;
}

describe('against events written, marked and dead-lettered by the relay\'s own code', () => {
  /** The events written, in seq order. */
  let written: EnqueuedEvent[];
  /** Event id -> the epoch it was marked under. */
  const marked = new Map<string, number>();
  let deadLettered: string;
  /** The fences the partitions are held under now, and partition 0's two epochs. */
  const fences = new Map<number, Fence>();
  let epochs0: [number, number];

  beforeAll(async () => {
    written = (await outbox.transaction((tx) => outbox.enqueue(tx, Array.from({ length: EVENTS }, (_, i) => event(i))))).sort((a, b) =>
      Number(BigInt(a.seq) - BigInt(b.seq)),
    );
    expect(new Set(written.map((w) => w.partition))).toEqual(new Set([0, 1]));

    // Partition 0: a first term marks the oldest 300, a second term (a new epoch) the next 200: a prefix, as a
    // relay's marks usually are.
    const first = await lead(0, 'views-a');
    const firstMarks = (await relayReads(first.fence)).slice(0, 300);
    expect(await reader.markPublished(first.fence, firstMarks, 1)).toBe(300);
    for (const r of firstMarks) marked.set(r.id, first.fence.epoch);
    await first.elector.stop();
    const second = await lead(0, 'views-b');
    expect(second.fence.epoch).toBe(first.fence.epoch + 1);
    const secondMarks = (await relayReads(second.fence)).slice(0, 200);
    expect(await reader.markPublished(second.fence, secondMarks, 301)).toBe(200);
    for (const r of secondMarks) marked.set(r.id, second.fence.epoch);
    fences.set(0, second.fence);
    epochs0 = [first.fence.epoch, second.fence.epoch];

    // Partition 1: every third pending event, gaps between them (acknowledgements of different aggregates), and one
    // event moved to the dead letters (it leaves the outbox: in neither view).
    const other = await lead(1, 'views-a');
    const pending1 = await relayReads(other.fence);
    const sparse = pending1.filter((_, i) => i % 3 === 0);
    expect(await reader.markPublished(other.fence, sparse, 1)).toBe(sparse.length);
    for (const r of sparse) marked.set(r.id, other.fence.epoch);
    const dead = pending1[1]!;
    expect(await reader.deadLetter(other.fence, dead, 'refused by the test', 1)).not.toBeNull();
    deadLettered = dead.id;
    fences.set(1, other.fence);
  });

  it('outbox_pending holds exactly the unmarked events, in seq order per partition, as the relay reads them', async () => {
    for (const partition of [0, 1]) {
      const expected = written.filter((w) => w.partition === partition && !marked.has(w.id) && w.id !== deadLettered);
      const { rows } = await db.pool.query<{ seq: string; id: string }>(
        `SELECT seq::text AS seq, id::text AS id FROM ${view('outbox_pending')} v WHERE partition = $1 ORDER BY v.seq`, // the bigint, not the text alias
        [partition],
      );
      expect(rows).toEqual(expected.map((w) => ({ seq: w.seq, id: w.id })));
      // The relay's own read (outbox_read_pending under a fence) finds the same events.
      expect((await relayReads(fences.get(partition)!)).map((r) => r.id)).toEqual(expected.map((w) => w.id));
    }
  });

  it('outbox_published holds exactly the marked events, each with the epoch it was marked under and when', async () => {
    const { rows } = await db.pool.query<{ id: string; partition: number; epoch: number; published_at: Date | null }>(
      `SELECT id::text AS id, partition, published_epoch::int AS epoch, published_at FROM ${view('outbox_published')} ORDER BY seq`,
    );
    const expected = written.filter((w) => marked.has(w.id));
    expect(rows.map((r) => ({ id: r.id, partition: r.partition, epoch: r.epoch }))).toEqual(
      expected.map((w) => ({ id: w.id, partition: w.partition, epoch: marked.get(w.id) })),
    );
    expect(rows.every((r) => r.published_at instanceof Date)).toBe(true);
    // Both epochs of partition 0 are there: the first term's 300, the second's 200.
    const marks0 = rows.filter((r) => r.partition === 0).map((r) => r.epoch);
    expect(epochs0.map((epoch) => marks0.filter((e) => e === epoch).length)).toEqual([300, 200]);
  });

  it('the two never overlap and together are the outbox (a dead-lettered event is in neither)', async () => {
    const { rows } = await db.pool.query<{ overlap: number; outbox: string[]; views: string[] }>(
      `SELECT (SELECT count(*)::int FROM ${view('outbox_pending')} p JOIN ${view('outbox_published')} q USING (seq)) AS overlap,
              (SELECT array_agg(id::text ORDER BY seq) FROM "${db.schema}".outbox) AS outbox,
              (SELECT array_agg(id::text ORDER BY seq)
               FROM (SELECT seq, id FROM ${view('outbox_pending')} UNION ALL SELECT seq, id FROM ${view('outbox_published')}) e) AS views`,
    );
    expect(rows[0]!.overlap).toBe(0);
    expect(rows[0]!.views).toEqual(rows[0]!.outbox);
    expect(rows[0]!.views).toEqual(written.filter((w) => w.id !== deadLettered).map((w) => w.id));
    expect(rows[0]!.views).not.toContain(deadLettered);
  });

  it('passes the event\'s columns through as written, and only the published view has published_at and published_epoch', async () => {
    const columns = async (name: string) =>
      (await db.pool.query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
        [db.schema, name],
      )).rows.map((r) => r.column_name);
    const eventColumns = ['seq', 'id', 'partition', 'aggregate_type', 'aggregate_id', 'event_type', 'payload', 'headers', 'created_at'];
    expect(await columns('outbox_pending')).toEqual(eventColumns);
    expect(await columns('outbox_published')).toEqual([...eventColumns, 'published_at', 'published_epoch']);

    // Each event says which it was (payload.i): what was written for it is what the views give.
    for (const name of ['outbox_pending', 'outbox_published'] as const) {
      const { rows } = await db.pool.query<{ aggregate_type: string; aggregate_id: string; event_type: string; payload: { i: number }; headers: unknown }>(
        `SELECT aggregate_type, aggregate_id, event_type, payload, headers FROM ${view(name)} ORDER BY seq LIMIT 50`,
      );
      expect(rows).toHaveLength(50);
      for (const r of rows) {
        const { aggregateType, aggregateId, eventType, payload, headers } = event(r.payload.i);
        expect(r).toEqual({ aggregate_type: aggregateType, aggregate_id: aggregateId, event_type: eventType, payload, headers });
      }
    }
  });

  it('a lease taken over a row from an earlier timeline looks back from the oldest pending event (outbox_pending)', async () => {
    // The lease's look-back (check_stream_since) is computed through the view: a minute before the creation of the
    // partition's oldest pending event. A released row from an earlier timeline is what a failover can leave (a
    // held one would be given a full lease first).
    for (const elector of electors.splice(0)) await elector.stop();
    const aged = await db.pool.query(
      `UPDATE "${db.schema}".outbox_partitions SET timeline = "${db.schema}".outbox_wal_timeline() - 1 WHERE partition = 0 AND holder IS NULL`,
    );
    expect(aged.rowCount).toBe(1);
    const { fence } = await lead(0, 'views-c');
    const { rows } = await db.pool.query<{ since: Date; oldest: Date }>(
      `SELECT p.check_stream_since AS since,
              (SELECT created_at - interval '1 minute' FROM ${view('outbox_pending')} WHERE partition = 0 ORDER BY seq LIMIT 1) AS oldest
       FROM "${db.schema}".outbox_partitions p WHERE p.partition = $1 AND p.epoch = $2`,
      [fence.partition, fence.epoch],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.oldest).toBeInstanceOf(Date);
    expect(rows[0]!.since).toEqual(rows[0]!.oldest);
  });

  it('is planned as index scans from the lease row\'s values: a partition\'s pending events come without a scan of the table', async () => {
    // On these events, with statistics as autovacuum keeps them (read-plan.test.ts is about the relay's read without).
    // Since migration 1733900000000 pending is what the lease rows say: the events after read_upto, and the skipped
    // ones, two branches each walking an index from the lease row's values, never the published history. (Their
    // union is sorted when a reader asks for seq order; the relay's own read is one ordered walk.)
    await db.pool.query(`ANALYZE "${db.schema}".outbox`);
    const explain = async (sql: string) => nodesOf((await db.pool.query(`EXPLAIN (FORMAT JSON) ${sql}`)).rows[0]['QUERY PLAN']);
    const throughView = await explain(`SELECT seq FROM ${view('outbox_pending')} WHERE partition = 0 ORDER BY seq LIMIT 10`);
    const scans = throughView.filter((n) => n['Relation Name'] === 'outbox');
    expect(scans).toHaveLength(2);
    for (const scan of scans) expect(['Index Scan', 'Index Only Scan']).toContain(scan['Node Type']);
    expect(scans.map((n) => n['Index Cond'] ?? '').join(' ')).toMatch(/read_upto/);
    expect(scans.map((n) => n['Node Type'])).not.toContain('Seq Scan');
  });
});
