// How should the relay record that events were published? Measures the database side of the relay's drain (no
// NATS) for several table layouts, each in its own private schema on the test database:
//
//   fill a backlog of N events (one partition by default, realistic rows, 1000-row INSERT statements), CHECKPOINT,
//   then loop { read the next batch of pending events in seq order (fenced by the lease row); record them as
//   published (serially in the background, at most 2 marks outstanding, the next read leaving out the seqs being
//   marked: the relay's MarkQueue) } until drained; then VACUUM, CHECKPOINT, the retention sweep, VACUUM again.
//
// and prints, per layout: events/s of the read+record loop, the time in reads and in marks, the CPU of the two
// server backends, the WAL written (pg_walinspect: only records of the layout's relations, the server being shared),
// table and index sizes at the end of the drain, row versions updated / HOT / deleted / dead, and the upkeep that
// follows. The layouts, their correctness arguments and the results: scripts/bench/progress-layouts.md.
//
// Usage: node -r ./test/support/register-ts.cjs scripts/bench/progress-layouts.ts [--events N] [--only A,B50,...]
//          (--help for the rest; --late-check checks the layouts' handling of a seq that commits late)
// Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test). Needs a superuser (CHECKPOINT, a
// temporary replication slot that keeps the measured WAL, pg_walinspect, /proc of the server's backends: the server
// on this machine).
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Pool, type PoolClient } from 'pg';
import { TEST_DATABASE_URL } from '../../test/support/env';
import { deleteInBatches } from '../../services/outbox/src/maintenance/batched-delete';
import { commandLine, integerFlag, UsageError, usageError } from './lib/flags';

// ---------------------------------------------------------------------------------------------------------------
// Command line

const HELP = `Usage: node -r ./test/support/register-ts.cjs scripts/bench/progress-layouts.ts [options]

  --events <n>     backlog per layout (default 200000)
  --batch <n>      events per read and per mark (default 1000, the relay's default batch size)
  --partitions <n> outbox partitions, events round-robin, drained one after the other (default 1)
  --only <keys>    comma-separated layouts (default all): ${'A, B50, B90, C1, C2, D1, D2'}
  --serial         wait for each mark before the next read (default: marks in the background, as the relay)
  --no-checkpoint  no CHECKPOINT between the fill and the drain (default: one, as the drain benchmark does; the
                   marks then pay a full-page image for the first change of every page, as after an outage)
  --keep           keep each layout's schema (default: dropped at the end of its run)
  --late-check     instead of measuring: check on a few events that every layout publishes a seq committed after
                   higher ones (and B's watermark / D's skipped list around it)
  --help

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).`;

interface Args {
  events: number;
  batch: number;
  partitions: number;
  only: string[] | null;
  serial: boolean;
  checkpoint: boolean;
  keep: boolean;
  lateCheck: boolean;
  help: boolean;
}

const OPTIONS = {
  events: { type: 'string' },
  batch: { type: 'string' },
  partitions: { type: 'string' },
  only: { type: 'string' },
  serial: { type: 'boolean' },
  'no-checkpoint': { type: 'boolean' },
  keep: { type: 'boolean' },
  'late-check': { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

function parse(argv: string[]): Args {
  const problem = (flag: string, value: string | undefined) => `${flag} needs a whole number of at least 1, got ${value === undefined ? 'nothing' : `"${value}"`}`;
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw usageError(error, argv, OPTIONS, problem);
  }
  const only = values.only === undefined ? null : values.only.split(',').map((k) => k.trim()).filter(Boolean);
  for (const key of only ?? []) {
    if (!LAYOUTS.some((l) => l.key === key)) throw new UsageError(`--only: unknown layout "${key}" (known: ${LAYOUTS.map((l) => l.key).join(', ')})`);
  }
  return {
    events: integerFlag('--events', values.events, 1, problem) ?? 200_000,
    batch: integerFlag('--batch', values.batch, 1, problem) ?? 1000,
    partitions: integerFlag('--partitions', values.partitions, 1, problem) ?? 1,
    only,
    serial: values.serial ?? false,
    checkpoint: !values['no-checkpoint'],
    keep: values.keep ?? false,
    lateCheck: values['late-check'] ?? false,
    help: values.help ?? false,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The layouts

interface Fence {
  partition: number;
  holder: string;
  epoch: number;
}

interface Row {
  seq: string;
  id: string;
}

interface Layout {
  key: string;
  title: string;
  /** DDL, run with search_path set to the layout's schema (so the migrations' text can stay as it is). */
  setup(ctx: SetupContext): string[];
  /** Tables whose rows are the events (stats and sizes are summed over them and their partitions). */
  tables: string[];
  /** The fenced read of the next `limit` pending events. `from` is the relay's read cursor (D only). */
  read(c: PoolClient, s: string, fence: Fence, limit: number, exclude: string[], from: string | null): Promise<Row[]>;
  /** Records `rows` as published (fenced); returns how many it recorded. */
  mark(c: PoolClient, s: string, fence: Fence, rows: Row[], checkStreamFrom: number): Promise<number>;
  /** After the drain: is everything recorded as published, and nothing else? (a message when not) */
  verify(c: PoolClient, s: string, events: number): Promise<string | null>;
  /**
   * When a read finds nothing and no mark is outstanding: bring the progress up to date without a batch (B's
   * watermark, D's skipped seqs), as the relay would once when it goes idle.
   */
  settle?(c: PoolClient, s: string, fence: Fence): Promise<void>;
  /** The retention sweep of everything published (cut-off in the future: all of it is old enough). */
  retention(pool: Pool, s: string, batch: number): Promise<number>;
}

interface SetupContext {
  events: number;
  /** D2: seqs per range partition. */
  partitionRows: number;
  /** The outbox's partitions (lease rows); events go round-robin. */
  partitions: number;
}

// The columns of migrations 1732300000000_outbox.sql + 1733400000000_payload_json.sql (payload json).
const OUTBOX_COLUMNS = `
  seq             bigint GENERATED ALWAYS AS IDENTITY,
  id              uuid NOT NULL,
  partition       integer NOT NULL,
  aggregate_type  text NOT NULL,
  aggregate_id    text NOT NULL,
  event_type      text NOT NULL,
  payload         json NOT NULL,
  headers         jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  published_at    timestamptz,
  published_epoch bigint`;

// The lease row of 1732300000000 + 1732500000000 (step_down_epoch) + 1733100000000 (check_stream_from), plus what a
// layout adds. Autovacuum is off for every table of every layout: the drain and the VACUUM afterwards are then
// measured the same way whatever the server's settings (this server runs with autovacuum off anyway).
function partitionsTable(extra = ''): string {
  return `
    CREATE TABLE outbox_partitions (
      partition          integer PRIMARY KEY,
      holder             text,
      epoch              bigint NOT NULL DEFAULT 0,
      acquired_at        timestamptz,
      renewed_at         timestamptz,
      expires_at         timestamptz NOT NULL DEFAULT '-infinity',
      last_published_seq bigint,
      last_published_id  uuid,
      last_published_at  timestamptz,
      published_total    bigint NOT NULL DEFAULT 0,
      step_down_epoch    bigint,
      check_stream_from  bigint${extra}
    ) WITH (autovacuum_enabled = false)`;
}

/** The lease rows, every partition held by the bench's relay at epoch 1. */
function leaseRows(ctx: SetupContext): string {
  return `INSERT INTO outbox_partitions (partition, holder, epoch, acquired_at, renewed_at, expires_at)
          SELECT p, 'bench', 1, now(), now(), now() + interval '1 day' FROM generate_series(0, ${ctx.partitions - 1}) p`;
}

/** The read function's result columns, as in 1733000000000_read_pending.sql. */
const READ_RESULT = `RETURNS TABLE (seq text, id uuid, partition integer, aggregate_type text, aggregate_id text, event_type text,
               payload text, headers jsonb, created_at timestamptz)`;
const READ_SELECT = `o.seq::text, o.id, o.partition, o.aggregate_type, o.aggregate_id, o.event_type, o.payload::text, o.headers,
         o.created_at`;
const FENCE = `EXISTS (SELECT 1 FROM outbox_partitions p
                WHERE p.partition = p_partition AND p.holder = p_holder AND p.epoch = p_epoch AND p.expires_at > now())`;

/** Today's read (1733000000000_read_pending.sql), the pending predicate and the start of the walk as given. */
function readFunction(pending: string, start = ''): string {
  return `
    CREATE FUNCTION outbox_read_pending(p_partition integer, p_holder text, p_epoch bigint, p_exclude bigint[], p_limit integer)
    ${READ_RESULT}
    LANGUAGE sql STABLE
    SET search_path FROM CURRENT
    SET enable_sort = off
    SET enable_bitmapscan = off
    AS $$
      SELECT ${READ_SELECT}
      FROM outbox o
      WHERE o.partition = p_partition ${start} ${pending} AND o.seq NOT IN (SELECT unnest(p_exclude))
        AND ${FENCE}
      ORDER BY o.seq
      LIMIT p_limit
    $$`;
}

async function readRows(c: PoolClient, sql: string, params: unknown[]): Promise<Row[]> {
  // Every column comes back as the relay gets it (payload text, headers parsed), so the client does the same work.
  const { rows } = await c.query<Row>(sql, params);
  return rows;
}

/** Today's mark (reader.ts markSql): the lease row's progress and the events, in one fenced statement. */
function updateMarkSql(s: string): string {
  return `
      WITH lease AS (
        UPDATE "${s}".outbox_partitions
        SET published_total = published_total + cardinality($4::bigint[]),
            last_published_seq = $5::bigint, last_published_id = $6::uuid, last_published_at = now(),
            check_stream_from = $7::bigint
        WHERE partition = $1 AND holder = $2 AND epoch = $3
        RETURNING epoch)
      UPDATE "${s}".outbox o SET published_at = now(), published_epoch = lease.epoch
      FROM lease
      WHERE o.seq = ANY($4::bigint[]) AND o.published_at IS NULL
      RETURNING o.seq`;
}

function markParams(fence: Fence, rows: Row[], checkStreamFrom: number): unknown[] {
  const last = rows[rows.length - 1]!;
  return [fence.partition, fence.holder, fence.epoch, rows.map((r) => r.seq), last.seq, last.id, checkStreamFrom];
}

/** B's and D's mark with no events: only the checkpoint's work (the lease row's other progress stays). */
async function settleProgress(c: PoolClient, s: string, f: Fence): Promise<void> {
  await c.query(
    `SELECT "${s}".outbox_mark($1, $2, $3, '{}', p.last_published_seq, p.last_published_id, p.check_stream_from)
     FROM "${s}".outbox_partitions p WHERE p.partition = $1`,
    [f.partition, f.holder, f.epoch],
  );
}

/** The product's retention sweep (maintenance/retention.ts → deleteInBatches), on `table`. */
function sweepPublished(table: string) {
  return (pool: Pool, s: string, batch: number) =>
    deleteInBatches(pool, {
      table: `"${s}".${table}`,
      key: ['seq'],
      olderThan: { column: 'published_at', ms: -60_000 },
      orderBy: 'seq',
      batchSize: batch,
    });
}

async function one(c: PoolClient, sql: string, params: unknown[] = []): Promise<Record<string, unknown>> {
  const { rows } = await c.query<Record<string, unknown>>(sql, params);
  return rows[0] ?? {};
}

async function verifyByState(c: PoolClient, s: string, events: number): Promise<string | null> {
  const r = await one(c, `SELECT count(*) FILTER (WHERE published_at IS NULL)::int AS pending, count(*)::int AS total,
                                 (SELECT sum(published_total)::int FROM "${s}".outbox_partitions) AS recorded FROM "${s}".outbox`);
  return r.pending === 0 && r.total === events && r.recorded === events ? null : `pending ${r.pending}, rows ${r.total}, published_total ${r.recorded}`;
}

/**
 * The writers in flight: the transactions holding the partition map's lock (1733200000000_partition_map_lock.sql).
 * Every writer (enqueue.ts, the SQL enqueue(), replays) takes it, shared, BEFORE its rows draw their seqs and holds
 * it until it commits or rolls back. A transaction is named by its virtual transaction id, unique for the server's
 * lifetime. pg_locks is read live, not through a snapshot.
 */
const WRITERS_FUNCTION = `
  CREATE FUNCTION outbox_writers() RETURNS text[]
  LANGUAGE sql VOLATILE
  SET search_path FROM CURRENT
  AS $$
    SELECT coalesce(array_agg(l.virtualtransaction), '{}') FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
      AND l.classid = (hashtext('outbox_partition_map')::int8 & 4294967295)::oid
      AND l.objid = (hashtext(current_schema())::int8 & 4294967295)::oid AND l.objsubid = 2
  $$`;

/**
 * The checkpoint that lets a watermark pass seqs that are not visible (B and D). `v` is the sequence's last value;
 * `w` the writers in flight, read AFTER it. A transaction that drew a seq <= v drew it before v was read, so it held
 * the map lock then: it has ended or it is in `w`. Once none of `w` holds the lock any more (a later mark looks), every
 * seq <= v is final: committed (and visible to any snapshot taken from then on) or never will be. Only writers of
 * this outbox can hold a checkpoint back, not unrelated long transactions.
 */
const CHECKPOINT_DECLARE = `
  v bigint := coalesce(pg_sequence_last_value('outbox_seq_seq'::regclass), 0);
  w text[] := outbox_writers();`;
const CHECKPOINT_MATURED = `(lease.ck_writers IS NULL OR NOT (lease.ck_writers && outbox_writers()))`;

const LAYOUTS: Layout[] = [
  // ---- A: today's layout ------------------------------------------------------------------------------------
  {
    key: 'A',
    title: 'today: partial pending index, UPDATE marks',
    tables: ['outbox'],
    setup: (ctx) => [
      `CREATE TABLE outbox (${OUTBOX_COLUMNS}, PRIMARY KEY (seq), UNIQUE (id)) WITH (autovacuum_enabled = false)`,
      `CREATE INDEX outbox_pending_idx ON outbox (partition, seq) WHERE published_at IS NULL`,
      partitionsTable(),
      leaseRows(ctx),
      readFunction('AND o.published_at IS NULL'),
    ],
    read: (c, s, f, limit, exclude) => readRows(c, `SELECT * FROM "${s}".outbox_read_pending($1, $2, $3, $4, $5)`, [f.partition, f.holder, f.epoch, exclude, limit]),
    mark: async (c, s, f, rows, from) => (await c.query(updateMarkSql(s), markParams(f, rows, from))).rowCount ?? 0,
    verify: verifyByState,
    retention: sweepPublished('outbox'),
  },
  // ---- B: HOT marks, full index, low watermark on the lease row -------------------------------------------------
  ...[50, 90].map(
    (fillfactor): Layout => ({
      key: `B${fillfactor}`,
      title: `HOT marks: full (partition, seq) index, fillfactor ${fillfactor}, read from a low watermark`,
      tables: ['outbox'],
      setup: (ctx) => [
        `CREATE TABLE outbox (${OUTBOX_COLUMNS}, PRIMARY KEY (seq), UNIQUE (id)) WITH (fillfactor = ${fillfactor}, autovacuum_enabled = false)`,
        // Not partial: published_at is in no index, so the mark can be a HOT update.
        `CREATE INDEX outbox_partition_seq_idx ON outbox (partition, seq)`,
        partitionsTable(`,
      low_seq            bigint NOT NULL DEFAULT 0,  -- every event of the partition with seq <= low_seq is published
      ck_seq             bigint,                     -- the checkpoint that moves low_seq (see CHECKPOINT_DECLARE)
      ck_writers         text[]`),
        WRITERS_FUNCTION,
        leaseRows(ctx),
        // The read walks the full index from the watermark (published rows in between are skipped by their heap
        // tuple's published_at), not from the partition's first retained event.
        readFunction('AND o.published_at IS NULL', 'AND o.seq > (SELECT p.low_seq FROM outbox_partitions p WHERE p.partition = p_partition)'),
        `CREATE FUNCTION outbox_mark(p_partition integer, p_holder text, p_epoch bigint, p_seqs bigint[], p_last_seq bigint,
                                     p_last_id uuid, p_check_from bigint)
         RETURNS integer
         LANGUAGE plpgsql
         SET search_path FROM CURRENT
         SET enable_bitmapscan = off
         SET enable_sort = off
         AS $$
         DECLARE ${CHECKPOINT_DECLARE}
           lease outbox_partitions;
           marked integer;
         BEGIN
           UPDATE outbox_partitions
           SET published_total = published_total + cardinality(p_seqs), last_published_seq = p_last_seq,
               last_published_id = p_last_id, last_published_at = now(), check_stream_from = p_check_from
           WHERE partition = p_partition AND holder = p_holder AND epoch = p_epoch
           RETURNING * INTO lease;
           IF NOT FOUND THEN RETURN NULL; END IF;
           UPDATE outbox o SET published_at = now(), published_epoch = p_epoch
           WHERE o.seq = ANY(p_seqs) AND o.published_at IS NULL;
           GET DIAGNOSTICS marked = ROW_COUNT;
           -- The previous checkpoint has matured: every seq <= ck_seq is final. The watermark moves up to it, but
           -- not past the lowest event still pending (this statement's own marks are visible here).
           IF ${CHECKPOINT_MATURED} THEN
             UPDATE outbox_partitions p
             SET low_seq = CASE WHEN lease.ck_seq IS NULL THEN p.low_seq ELSE greatest(p.low_seq, least(lease.ck_seq,
                             coalesce((SELECT min(o.seq) FROM outbox o
                                       WHERE o.partition = p_partition AND o.seq > p.low_seq AND o.published_at IS NULL) - 1,
                                      lease.ck_seq))) END,
                 ck_seq = v, ck_writers = w
             WHERE p.partition = p_partition;
           END IF;
           RETURN marked;
         END
         $$`,
      ],
      read: (c, s, f, limit, exclude) => readRows(c, `SELECT * FROM "${s}".outbox_read_pending($1, $2, $3, $4, $5)`, [f.partition, f.holder, f.epoch, exclude, limit]),
      mark: async (c, s, f, rows, from) => Number((await one(c, `SELECT "${s}".outbox_mark($1, $2, $3, $4, $5, $6, $7) AS n`, markParams(f, rows, from))).n ?? 0),
      settle: settleProgress,
      verify: verifyByState,
      retention: sweepPublished('outbox'),
    }),
  ),
  // ---- C: delete on publish -----------------------------------------------------------------------------------
  ...(['C1', 'C2'] as const).map(
    (key): Layout => ({
      key,
      title: key === 'C1' ? 'DELETE on publish' : 'DELETE on publish, RETURNING into insert-only outbox_published',
      tables: key === 'C1' ? ['outbox'] : ['outbox', 'outbox_published'],
      setup: (ctx) => [
        // Every row in the table is pending, so the pending index needs no predicate.
        `CREATE TABLE outbox (${OUTBOX_COLUMNS}, PRIMARY KEY (seq), UNIQUE (id)) WITH (autovacuum_enabled = false)`,
        `CREATE INDEX outbox_pending_idx ON outbox (partition, seq)`,
        ...(key === 'C2'
          ? [
              `CREATE TABLE outbox_published (
                 seq bigint PRIMARY KEY, id uuid NOT NULL, partition integer NOT NULL, aggregate_type text NOT NULL,
                 aggregate_id text NOT NULL, event_type text NOT NULL, payload json NOT NULL, headers jsonb NOT NULL,
                 created_at timestamptz NOT NULL, published_at timestamptz NOT NULL, published_epoch bigint NOT NULL
               ) WITH (autovacuum_enabled = false)`,
            ]
          : []),
        partitionsTable(),
        leaseRows(ctx),
        readFunction(''),
      ],
      read: (c, s, f, limit, exclude) => readRows(c, `SELECT * FROM "${s}".outbox_read_pending($1, $2, $3, $4, $5)`, [f.partition, f.holder, f.epoch, exclude, limit]),
      mark: async (c, s, f, rows, from) => {
        const lease = `
          WITH lease AS (
            UPDATE "${s}".outbox_partitions
            SET published_total = published_total + cardinality($4::bigint[]),
                last_published_seq = $5::bigint, last_published_id = $6::uuid, last_published_at = now(),
                check_stream_from = $7::bigint
            WHERE partition = $1 AND holder = $2 AND epoch = $3
            RETURNING epoch)`;
        const sql =
          key === 'C1'
            ? `${lease}
               DELETE FROM "${s}".outbox o USING lease WHERE o.seq = ANY($4::bigint[]) RETURNING o.seq`
            : `${lease},
               moved AS (
                 DELETE FROM "${s}".outbox o USING lease WHERE o.seq = ANY($4::bigint[])
                 RETURNING o.*, lease.epoch AS lease_epoch)
               INSERT INTO "${s}".outbox_published
                 (seq, id, partition, aggregate_type, aggregate_id, event_type, payload, headers, created_at, published_at, published_epoch)
               SELECT seq, id, partition, aggregate_type, aggregate_id, event_type, payload, headers, created_at, now(), lease_epoch
               FROM moved
               RETURNING seq`;
        return (await c.query(sql, markParams(f, rows, from))).rowCount ?? 0;
      },
      verify: async (c, s, events) => {
        const r = await one(
          c,
          `SELECT (SELECT count(*)::int FROM "${s}".outbox) AS pending,
                  ${key === 'C2' ? `(SELECT count(*)::int FROM "${s}".outbox_published)` : `${events}`} AS kept,
                  (SELECT sum(published_total)::int FROM "${s}".outbox_partitions) AS recorded`,
        );
        return r.pending === 0 && r.kept === events && r.recorded === events ? null : `pending ${r.pending}, kept ${r.kept}, published_total ${r.recorded}`;
      },
      retention: key === 'C1' ? async () => 0 : sweepPublished('outbox_published'),
    }),
  ),
  // ---- D: progress per batch on the lease row, no per-row write -----------------------------------------------
  ...(['D1', 'D2'] as const).map(
    (key): Layout => ({
      key,
      title:
        key === 'D1'
          ? 'no per-row write: read cursor + skipped seqs on the lease row'
          : 'D1 on a table range-partitioned by seq; retention detaches and drops partitions',
      tables: ['outbox'],
      setup: (ctx) => [
        key === 'D1'
          ? `CREATE TABLE outbox (${OUTBOX_COLUMNS}, PRIMARY KEY (seq), UNIQUE (id)) WITH (autovacuum_enabled = false)`
          : // A unique index of a partitioned table must contain the partition key: UNIQUE (id) cannot be kept.
            `CREATE TABLE outbox (${OUTBOX_COLUMNS}, PRIMARY KEY (seq)) PARTITION BY RANGE (seq)`,
        ...(key === 'D2'
          ? Array.from({ length: Math.ceil(ctx.events / ctx.partitionRows) + 1 }, (_, i) =>
              `CREATE TABLE outbox_p${i} PARTITION OF outbox FOR VALUES FROM (${i * ctx.partitionRows + 1}) TO (${(i + 1) * ctx.partitionRows + 1})
               WITH (autovacuum_enabled = false)`,
            )
          : []),
        `CREATE INDEX outbox_partition_seq_idx ON outbox (partition, seq)`,
        partitionsTable(`,
      read_upto          bigint NOT NULL DEFAULT 0,        -- every seq <= read_upto was published unless in skipped
      skipped            bigint[] NOT NULL DEFAULT '{}',   -- seqs <= read_upto not published that may still commit
      ck_seq             bigint,                           -- the checkpoint that prunes skipped (CHECKPOINT_DECLARE)
      ck_writers         text[]`),
        leaseRows(ctx),
        WRITERS_FUNCTION,
        // Two ordered probes instead of a walk: the events after the relay's cursor (its own in-memory cursor, or
        // the lease row's at the start of a term) and the skipped seqs that have turned up since.
        `CREATE FUNCTION outbox_read_pending(p_partition integer, p_holder text, p_epoch bigint, p_exclude bigint[],
                                             p_limit integer, p_from bigint)
         ${READ_RESULT}
         LANGUAGE sql STABLE
         SET search_path FROM CURRENT
         SET enable_bitmapscan = off
         AS $$
           WITH lease AS MATERIALIZED (
             SELECT coalesce(p_from, p.read_upto) AS upto, p.skipped FROM outbox_partitions p
             WHERE p.partition = p_partition AND p.holder = p_holder AND p.epoch = p_epoch AND p.expires_at > now())
           SELECT ${READ_SELECT}
           FROM ((SELECT * FROM outbox o
                  WHERE o.partition = p_partition AND o.seq > (SELECT upto FROM lease)
                    AND o.seq NOT IN (SELECT unnest(p_exclude))
                  ORDER BY o.seq LIMIT p_limit)
                 UNION ALL
                 (SELECT * FROM outbox o
                  WHERE o.partition = p_partition AND o.seq = ANY((SELECT skipped FROM lease)::bigint[])
                    AND o.seq NOT IN (SELECT unnest(p_exclude)))) o
           ORDER BY o.seq
           LIMIT p_limit
         $$`,
        `CREATE FUNCTION outbox_mark(p_partition integer, p_holder text, p_epoch bigint, p_seqs bigint[], p_last_seq bigint,
                                     p_last_id uuid, p_check_from bigint)
         RETURNS integer
         LANGUAGE plpgsql
         SET search_path FROM CURRENT
         AS $$
         DECLARE ${CHECKPOINT_DECLARE}
           lease outbox_partitions;
           upto bigint;
           skip bigint[];
         BEGIN
           SELECT * INTO lease FROM outbox_partitions
           WHERE partition = p_partition AND holder = p_holder AND epoch = p_epoch FOR UPDATE;
           IF NOT FOUND THEN RETURN NULL; END IF;
           upto := greatest(lease.read_upto, (SELECT max(x) FROM unnest(p_seqs) x));
           -- What the read passed over without returning it: seqs of other partitions, rolled back, or of
           -- transactions still running. Plus the skipped seqs not published by this batch.
           skip := ARRAY(
             SELECT x FROM unnest(lease.skipped) x WHERE x NOT IN (SELECT unnest(p_seqs))
             UNION ALL
             SELECT g FROM generate_series(lease.read_upto + 1, upto) g WHERE g NOT IN (SELECT unnest(p_seqs)));
           IF ${CHECKPOINT_MATURED} THEN
             -- The previous checkpoint has matured: a skipped seq <= ck_seq that is not an event of this partition
             -- now will never be one. Those of this partition that did turn up stay until they are published.
             IF lease.ck_seq IS NOT NULL AND cardinality(skip) > 0 THEN
               skip := ARRAY(SELECT x FROM unnest(skip) x
                             WHERE x > lease.ck_seq OR EXISTS (SELECT 1 FROM outbox o WHERE o.seq = x AND o.partition = p_partition)
                             ORDER BY x);
             END IF;
             -- Seqs up to ck_seq past the cursor are final too: the cursor may pass them up to the next event of
             -- the partition (which retention's bound by seq range needs when the partition goes idle).
             IF lease.ck_seq > upto THEN
               upto := least(lease.ck_seq,
                             coalesce((SELECT min(o.seq) FROM outbox o WHERE o.partition = p_partition AND o.seq > upto) - 1, lease.ck_seq));
             END IF;
             lease.ck_seq := v;
             lease.ck_writers := w;
           END IF;
           UPDATE outbox_partitions
           SET read_upto = upto, skipped = skip, ck_seq = lease.ck_seq, ck_writers = lease.ck_writers,
               published_total = published_total + cardinality(p_seqs), last_published_seq = p_last_seq,
               last_published_id = p_last_id, last_published_at = now(), check_stream_from = p_check_from
           WHERE partition = p_partition;
           RETURN cardinality(p_seqs);
         END
         $$`,
      ],
      read: (c, s, f, limit, exclude, from) =>
        readRows(c, `SELECT * FROM "${s}".outbox_read_pending($1, $2, $3, $4, $5, $6)`, [f.partition, f.holder, f.epoch, exclude, limit, from]),
      mark: async (c, s, f, rows, from) => Number((await one(c, `SELECT "${s}".outbox_mark($1, $2, $3, $4, $5, $6, $7) AS n`, markParams(f, rows, from))).n ?? 0),
      settle: settleProgress,
      verify: async (c, s, events) => {
        const r = await one(
          c,
          `SELECT string_agg(p.read_upto::text, ',') AS upto, sum(cardinality(p.skipped))::int AS skipped,
                  sum(p.published_total)::int AS recorded,
                  (SELECT count(*)::int FROM "${s}".outbox o JOIN "${s}".outbox_partitions q ON q.partition = o.partition
                   WHERE o.seq > q.read_upto OR o.seq = ANY(q.skipped)) AS pending,
                  (SELECT count(*)::int FROM "${s}".outbox) AS total
           FROM "${s}".outbox_partitions p`,
        );
        return r.pending === 0 && r.total === events && r.recorded === events
          ? null
          : `pending ${r.pending}, rows ${r.total}, published_total ${r.recorded}, read_upto ${r.upto}, skipped ${r.skipped}`;
      },
      retention:
        key === 'D1'
          ? async (pool, s, batch) => {
              // Published = seq <= read_upto and not skipped. (Age: created_at, see progress-layouts.md.)
              const sql = `
                WITH doomed AS (
                  SELECT o.seq FROM "${s}".outbox o JOIN "${s}".outbox_partitions p ON p.partition = o.partition
                  WHERE o.seq <= p.read_upto AND o.seq <> ALL(p.skipped)
                    AND o.created_at < now() - make_interval(secs => $1::float8 / 1000)
                  ORDER BY o.seq LIMIT $2 FOR UPDATE OF o SKIP LOCKED)
                DELETE FROM "${s}".outbox t USING doomed d WHERE t.seq = d.seq`;
              let total = 0;
              for (;;) {
                const { rowCount } = await pool.query(sql, [-60_000, batch]);
                total += rowCount ?? 0;
                if ((rowCount ?? 0) < batch) return total;
              }
            }
          : async (pool, s) => {
              // A partition can go when every seq in its range is published in every partition (of the relay):
              // all below the lowest read_upto + 1 and the lowest skipped seq. DETACH ... CONCURRENTLY does not
              // lock writers or reads out; the DROP that follows touches only the detached table.
              const { rows } = await pool.query<{ name: string; rows: number }>(
                `WITH bound AS (
                   SELECT min(least(p.read_upto + 1, (SELECT min(x) FROM unnest(p.skipped) x))) AS b FROM "${s}".outbox_partitions p)
                 SELECT c.relname AS name, c.reltuples::int AS rows
                 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid, bound
                 WHERE i.inhparent = '"${s}".outbox'::regclass
                   AND (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''?(\\d+)'))[1]::bigint <= bound.b
                 ORDER BY 1`,
              );
              let total = 0;
              for (const part of rows) {
                await pool.query(`ALTER TABLE "${s}".outbox DETACH PARTITION "${s}"."${part.name}" CONCURRENTLY`);
                await pool.query(`DROP TABLE "${s}"."${part.name}"`);
                total += part.rows;
              }
              return total;
            },
    }),
  ),
];

// ---------------------------------------------------------------------------------------------------------------
// The events

/** An OrderCreated as a shop would write it: about 300 bytes of JSON. */
function orderPayload(orderId: string, customerId: string): string {
  return JSON.stringify({
    orderId,
    customerId,
    amount: 104.39,
    currency: 'EUR',
    createdAt: new Date().toISOString(),
    lines: [
      { sku: `SKU-${randomBytes(3).toString('hex')}`, quantity: 2, unitPrice: 39.9 },
      { sku: `SKU-${randomBytes(3).toString('hex')}`, quantity: 1, unitPrice: 24.59 },
    ],
    shipTo: { city: 'Berlin', postcode: '10115', country: 'DE' },
  });
}

/** `n` events, the i-th to partition (first + i) % partitions: hashed aggregates interleave like that. */
function eventBatch(n: number, first = 0, partitions = 1): { ids: string[]; aggregates: string[]; payloads: string[]; headers: string[]; parts: number[]; bytes: number } {
  const parts = Array.from({ length: n }, (_, i) => (first + i) % partitions);
  const ids: string[] = [];
  const aggregates: string[] = [];
  const payloads: string[] = [];
  const headers: string[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const orderId = randomUUID();
    const payload = orderPayload(orderId, randomUUID());
    bytes += payload.length;
    ids.push(randomUUID());
    aggregates.push(orderId);
    payloads.push(payload);
    headers.push(
      JSON.stringify({ correlationId: randomUUID(), traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01` }),
    );
  }
  return { ids, aggregates, payloads, headers, parts, bytes };
}

/**
 * The writers' INSERT (enqueue.ts's columns and partition, one partition), under the partition map's shared lock
 * taken before the first seq is drawn, as enqueue.ts does (outbox_writer_partitions()). B's and D's checkpoints rely
 * on it. (The per-aggregate locks are left out: the fill is not what is measured.)
 */
function insertSql(s: string): string {
  return `
    WITH map_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock_shared(hashtext('outbox_partition_map'), hashtext('${s}')) AS held)
    INSERT INTO "${s}".outbox (id, partition, aggregate_type, aggregate_id, event_type, payload, headers)
    SELECT e.id, e.part, 'Order', e.a, 'OrderCreated', e.p, e.h
    FROM unnest($1::uuid[], $2::text[], $3::json[], $4::jsonb[], $5::int[]) WITH ORDINALITY AS e(id, a, p, h, part, ord) CROSS JOIN map_lock
    ORDER BY e.ord`;
}

// ---------------------------------------------------------------------------------------------------------------
// Measuring

interface TableStats {
  upd: number;
  hot: number;
  del: number;
  dead: number;
}

interface Result {
  key: string;
  title: string;
  fillPerSec: number;
  fillWalBytes: number;
  payloadBytes: number;
  drainMs: number;
  perSec: number;
  readMs: number;
  reads: number;
  markMs: number;
  marks: number;
  markWaitMs: number;
  /** CPU of the two server backends (reader, marker) during the drain; null when not on this machine. */
  serverCpuMs: number | null;
  walBytes: number;
  walFpi: number;
  heapBytes: number;
  indexBytes: number;
  stats: TableStats;
  vacuumMs: number;
  vacuumWalBytes: number;
  retentionMs: number;
  retentionRows: number;
  retentionWalBytes: number;
  vacuumAfterMs: number;
  vacuumAfterWalBytes: number;
  problem: string | null;
}

const MARKS_QUEUED = 2;

/**
 * The relay's loop, database side only: read the next batch (leaving out the seqs whose marks are queued), queue
 * its mark, which runs in the background, serially, on its own connection, at most MARKS_QUEUED outstanding
 * (MarkQueue); stop when a read finds nothing and every mark has committed. The read cursor (D) lives as long as the
 * object: one term.
 */
class RelayLoop {
  readMs = 0;
  reads = 0;
  markMs = 0;
  marks = 0;
  markWaitMs = 0;
  recorded = 0;
  private cursor: string | null = null;
  private checkStreamFrom = 1;
  private readonly fence: Fence;

  constructor(
    partition: number,
    private readonly layout: Layout,
    private readonly s: string,
    private readonly reader: PoolClient,
    private readonly marker: PoolClient,
    private readonly batch: number,
    private readonly serial: boolean,
  ) {
    this.fence = { partition, holder: 'bench', epoch: 1 };
  }

  async drain(): Promise<void> {
    const { layout, s, fence } = this;
    const queue: { seqs: string[]; done: Promise<void> }[] = [];
    let tail: Promise<void> = Promise.resolve();
    let markError: unknown = null;
    const settleOldest = async () => {
      const start = performance.now();
      await queue[0]!.done;
      this.markWaitMs += performance.now() - start;
      queue.shift();
    };
    for (;;) {
      if (markError) throw markError;
      const exclude = queue.flatMap((m) => m.seqs);
      const start = performance.now();
      const rows = await explained(this.reader, `${layout.key} read ${this.reads + 1}`, this.reads + 1 === EXPLAIN_AT, () =>
        layout.read(this.reader, s, fence, this.batch, exclude, this.cursor),
      );
      this.readMs += performance.now() - start;
      this.reads++;
      if (rows.length === 0) {
        if (queue.length === 0) {
          if (layout.settle) {
            const t0 = performance.now();
            await layout.settle(this.marker, s, fence);
            this.markMs += performance.now() - t0;
          }
          break;
        }
        while (queue.length > 0) await settleOldest();
        continue;
      }
      for (const r of rows) if (this.cursor === null || BigInt(r.seq) > BigInt(this.cursor)) this.cursor = r.seq;
      while (queue.length >= (this.serial ? 1 : MARKS_QUEUED)) await settleOldest();
      const from = this.checkStreamFrom;
      this.checkStreamFrom += rows.length;
      const done = tail.then(async () => {
        if (markError) return;
        const t0 = performance.now();
        try {
          const n = await explained(this.marker, `${layout.key} mark ${this.marks + 1}`, this.marks + 1 === EXPLAIN_AT, () =>
            layout.mark(this.marker, s, fence, rows, from),
          );
          if (n !== rows.length) throw new Error(`mark recorded ${n} of ${rows.length}`);
          this.recorded += n;
        } catch (error) {
          markError = error;
        }
        this.markMs += performance.now() - t0;
        this.marks++;
      });
      tail = done;
      queue.push({ seqs: rows.map((r) => r.seq), done });
      if (this.serial) await settleOldest();
    }
    if (markError) throw markError;
  }
}

/**
 * PLBENCH_EXPLAIN=<n>: print the plans (auto_explain, ANALYZE, BUFFERS, nested statements) that the n-th read and
 * the n-th mark of each layout ran. For checking the layouts' SQL, not for measuring.
 */
const EXPLAIN_AT = Number(process.env.PLBENCH_EXPLAIN ?? 0);

async function explained<T>(c: PoolClient, label: string, on: boolean, work: () => Promise<T>): Promise<T> {
  if (!on) return work();
  const notices: string[] = [];
  const listener = (n: { message?: string }) => notices.push(n.message ?? '');
  c.on('notice', listener);
  await c.query(`LOAD 'auto_explain'`);
  await c.query(`SET auto_explain.log_level = notice; SET auto_explain.log_nested_statements = on; SET auto_explain.log_analyze = on;
                 SET auto_explain.log_buffers = on; SET auto_explain.log_min_duration = 0`);
  try {
    return await work();
  } finally {
    await c.query('SET auto_explain.log_min_duration = -1');
    c.off('notice', listener);
    process.stderr.write(`\n---- ${label}\n${notices.join('\n')}\n`);
  }
}

async function walLsn(c: PoolClient): Promise<string> {
  return String((await one(c, 'SELECT pg_current_wal_insert_lsn()::text AS l')).l);
}

/** The files of every relation of the schema (tables, indexes, sequences, their TOAST tables and indexes). */
async function relfilenodes(c: PoolClient, s: string): Promise<string[]> {
  const { rows } = await c.query<{ f: string }>(
    `WITH mine AS (SELECT c.oid, c.reltoastrelid FROM pg_class c WHERE c.relnamespace = '"${s}"'::regnamespace)
     SELECT pg_relation_filenode(oid)::text AS f FROM mine
     UNION SELECT pg_relation_filenode(reltoastrelid)::text FROM mine WHERE reltoastrelid <> 0
     UNION SELECT pg_relation_filenode(i.indexrelid)::text FROM pg_index i JOIN mine ON i.indrelid = mine.reltoastrelid`,
  );
  return rows.map((r) => r.f).filter((f) => f !== null && f !== '0');
}

interface Wal {
  bytes: number;
  fpi: number;
}

/**
 * The WAL this layout wrote since `from` (pg_walinspect, installed in the layout's schema): the records that touch
 * the schema's relations plus the commit records of their transactions. The server is shared (another engineer
 * measures on it too), so the insert position alone would count their WAL as well.
 */
async function walSince(c: PoolClient, s: string, from: string, files: string[]): Promise<Wal> {
  // Up to where WAL was inserted when the work ended, once it is flushed (WAL without a commit, such as VACUUM's,
  // waits for the WAL writer).
  const to = await walLsn(c);
  if ((await one(c, `SELECT $1::pg_lsn >= $2::pg_lsn AS empty`, [from, to])).empty) return { bytes: 0, fpi: 0 };
  for (let i = 0; i < 100 && !(await one(c, `SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS f`, [to])).f; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const r = await one(
    c,
    `WITH rec AS (SELECT * FROM "${s}".pg_get_wal_records_info($1::pg_lsn, $3::pg_lsn)),
     touching AS (SELECT * FROM rec WHERE block_ref ~ (' rel [0-9]+/[0-9]+/(' || array_to_string($2::text[], '|') || ') ')),
     commits AS (SELECT * FROM rec WHERE resource_manager = 'Transaction' AND xid IN (SELECT xid FROM touching WHERE xid <> '0'))
     SELECT coalesce(sum(record_length), 0)::float8 AS bytes, count(*) FILTER (WHERE fpi_length > 0)::float8 AS fpi
     FROM (SELECT record_length, fpi_length FROM touching UNION ALL SELECT record_length, fpi_length FROM commits) x`,
    [from, files, to],
  );
  return { bytes: Number(r.bytes), fpi: Number(r.fpi) };
}

/** Clock ticks per second of /proc/<pid>/stat's CPU times. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU ms (user + system) a server backend has used so far; null when /proc does not show it (a remote server). */
async function backendCpuMs(c: PoolClient): Promise<number | null> {
  const pid = Number((await one(c, 'SELECT pg_backend_pid() AS p')).p);
  try {
    // Fields after the parenthesized command name: state is the 1st of them, utime the 12th and stime the 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/**
 * WAL of `work` (its figures are read after it, outside its time). A temporary replication slot of this session
 * keeps the server from recycling the WAL before it is read: a checkpoint (anyone's) would otherwise remove it. The
 * slot goes with the measurement, or with the session.
 */
async function withWal<T>(c: PoolClient, s: string, work: () => Promise<T>): Promise<{ wal: Wal; value: T }> {
  const slot = `plbench_${process.pid}`;
  await c.query('SELECT pg_create_physical_replication_slot($1, true, true)', [slot]);
  try {
    const from = await walLsn(c);
    const before = await relfilenodes(c, s);
    const value = await work();
    const files = [...new Set([...before, ...(await relfilenodes(c, s))])];
    return { wal: await walSince(c, s, from, files), value };
  } finally {
    await c.query('SELECT pg_drop_replication_slot($1)', [slot]);
  }
}

/** Every relation holding the layout's events: the tables, or the partitions of a partitioned one. */
function relationsSql(s: string, tables: string[]): string {
  return tables
    .map((t) => `SELECT c.oid FROM pg_class c WHERE c.oid = '"${s}".${t}'::regclass AND c.relkind = 'r'
                 UNION ALL SELECT i.inhrelid FROM pg_inherits i WHERE i.inhparent = '"${s}".${t}'::regclass`)
    .join(' UNION ALL ');
}

async function sizes(c: PoolClient, s: string, tables: string[]): Promise<{ heap: number; index: number }> {
  const r = await one(
    c,
    `SELECT sum(pg_table_size(r.oid))::float8 AS heap, sum(pg_indexes_size(r.oid))::float8 AS index FROM (${relationsSql(s, tables)}) r`,
  );
  return { heap: Number(r.heap), index: Number(r.index) };
}

async function tableStats(c: PoolClient, s: string, tables: string[], workers: PoolClient[]): Promise<TableStats> {
  // Counters reach the shared statistics when a backend goes idle after at most a second; make the ones that did
  // the work report now, then read a fresh snapshot.
  for (const w of workers) await w.query('SELECT pg_stat_force_next_flush()');
  await new Promise((r) => setTimeout(r, 100));
  await c.query('SELECT pg_stat_clear_snapshot()');
  const r = await one(
    c,
    `SELECT coalesce(sum(n_tup_upd), 0)::float8 AS upd, coalesce(sum(n_tup_hot_upd), 0)::float8 AS hot,
            coalesce(sum(n_tup_del), 0)::float8 AS del, coalesce(sum(n_dead_tup), 0)::float8 AS dead
     FROM pg_stat_user_tables WHERE relid IN (${relationsSql(s, tables)})`,
  );
  return { upd: Number(r.upd), hot: Number(r.hot), del: Number(r.del), dead: Number(r.dead) };
}

async function checkpoint(c: PoolClient, state: { refused: boolean }): Promise<void> {
  if (state.refused) return;
  try {
    await c.query('CHECKPOINT');
  } catch (error) {
    state.refused = true;
    process.stderr.write(`  CHECKPOINT refused (${(error as Error).message}): WAL figures include full-page images at random\n`);
  }
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await work();
  return { ms: performance.now() - start, value };
}

async function runLayout(pool: Pool, layout: Layout, args: Args, cp: { refused: boolean }): Promise<Result> {
  const s = `plbench_${layout.key.toLowerCase()}_${process.pid}_${Date.now().toString(36)}`;
  const admin = await pool.connect();
  const reader = await pool.connect();
  const marker = await pool.connect();
  try {
    // ---- schema
    await admin.query(`CREATE SCHEMA "${s}"`);
    await admin.query(`SET search_path TO "${s}"`);
    for (const sql of layout.setup({ events: args.events, partitionRows: Math.min(50_000, Math.ceil(args.events / 4)), partitions: args.partitions })) {
      await admin.query(sql);
    }
    await admin.query('RESET search_path');
    await admin.query(`CREATE EXTENSION pg_walinspect WITH SCHEMA "${s}"`);

    // ---- fill (the writers' side of the layout)
    await checkpoint(admin, cp);
    const insert = insertSql(s);
    let payloadBytes = 0;
    const fill = await withWal(admin, s, () => timed(async () => {
      for (let done = 0; done < args.events; ) {
        const n = Math.min(1000, args.events - done);
        const b = eventBatch(n, done, args.partitions);
        payloadBytes += b.bytes;
        await admin.query(insert, [b.ids, b.aggregates, b.payloads, b.headers, b.parts]);
        done += n;
      }
    }));
    const before = await tableStats(admin, s, layout.tables, [admin]);
    if (args.checkpoint) await checkpoint(admin, cp);

    // ---- drain: the relay's loop, database side only
    // One partition after the other (a relay per partition would run them side by side; the database work is the same).
    const relays = Array.from({ length: args.partitions }, (_, p) => new RelayLoop(p, layout, s, reader, marker, args.batch, args.serial));
    const cpuBefore = [await backendCpuMs(reader), await backendCpuMs(marker)];
    const drain = await withWal(admin, s, () => timed(async () => {
      for (const relay of relays) await relay.drain();
    }));
    const cpuAfter = [await backendCpuMs(reader), await backendCpuMs(marker)];
    const serverCpuMs = cpuBefore.every((v) => v !== null) && cpuAfter.every((v) => v !== null)
      ? cpuAfter[0]! - cpuBefore[0]! + cpuAfter[1]! - cpuBefore[1]!
      : null;
    const total = (f: (r: RelayLoop) => number) => relays.reduce((sum, r) => sum + f(r), 0);
    const [readMs, reads, markMs, marks, markWaitMs, recorded] = [
      total((r) => r.readMs), total((r) => r.reads), total((r) => r.markMs), total((r) => r.marks), total((r) => r.markWaitMs), total((r) => r.recorded),
    ];
    const after = await tableStats(admin, s, layout.tables, [reader, marker]);
    const size = await sizes(admin, s, layout.tables);
    let problem = recorded === args.events ? await layout.verify(admin, s, args.events) : `recorded ${recorded} of ${args.events}`;

    // ---- upkeep: VACUUM (as autovacuum would soon after the drain), then, after a CHECKPOINT (retention comes an
    // hour later, so its first change of every page writes a full-page image in every layout), the retention
    // sweep and the VACUUM after it.
    const vacuumTables = layout.tables.map((t) => `"${s}".${t}`).join(', ');
    const vacuum = await withWal(admin, s, () => timed(() => admin.query(`VACUUM ${vacuumTables}`)));
    await checkpoint(admin, cp);
    const retention = await withWal(admin, s, () => timed(() => layout.retention(pool, s, 1000)));
    if (retention.value.value !== args.events && layout.key !== 'C1') problem ??= `retention deleted ${retention.value.value} of ${args.events}`;
    const vacuumAfter = await withWal(admin, s, () => timed(() => admin.query(`VACUUM ${vacuumTables}`)));

    return {
      key: layout.key,
      title: layout.title,
      fillPerSec: args.events / (fill.value.ms / 1000),
      fillWalBytes: fill.wal.bytes,
      payloadBytes: payloadBytes / args.events,
      drainMs: drain.value.ms,
      perSec: args.events / (drain.value.ms / 1000),
      readMs,
      reads,
      markMs,
      marks,
      markWaitMs,
      serverCpuMs,
      walBytes: drain.wal.bytes,
      walFpi: drain.wal.fpi,
      heapBytes: size.heap,
      indexBytes: size.index,
      stats: { upd: after.upd - before.upd, hot: after.hot - before.hot, del: after.del - before.del, dead: after.dead },
      vacuumMs: vacuum.value.ms,
      vacuumWalBytes: vacuum.wal.bytes,
      retentionMs: retention.value.ms,
      retentionRows: retention.value.value,
      retentionWalBytes: retention.wal.bytes,
      vacuumAfterMs: vacuumAfter.value.ms,
      vacuumAfterWalBytes: vacuumAfter.wal.bytes,
      problem,
    };
  } finally {
    reader.release();
    marker.release();
    if (!args.keep) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => undefined);
    admin.release();
  }
}

/**
 * --late-check: the invariant B's watermark and D's cursor must keep, on a small scale, for each layout. A writer
 * draws seq 1 and stays open; others commit 2-6, roll back 7 (a gap for good) and commit 8-10; the relay drains
 * (batches of 2, marks in the background). Then seq 1 commits: the next drain must publish it. Three more rounds of
 * two events let the checkpoints mature. Every committed event must be published exactly once, B's watermark must
 * not pass seq 1 while it is open, D must keep 1 (and 7) skipped until then and hold no skipped seq at the end.
 */
async function lateCheck(pool: Pool, layout: Layout): Promise<string> {
  const s = `plcheck_${layout.key.toLowerCase()}_${process.pid}_${Date.now().toString(36)}`;
  const [admin, reader, marker, open] = await Promise.all([pool.connect(), pool.connect(), pool.connect(), pool.connect()]);
  const lease = async () => {
    const r = await one(admin, `SELECT * FROM "${s}".outbox_partitions`);
    return r.low_seq !== undefined ? `low_seq ${r.low_seq}` : r.skipped !== undefined ? `read_upto ${r.read_upto}, skipped {${(r.skipped as string[]).join(',')}}` : '';
  };
  try {
    await admin.query(`CREATE SCHEMA "${s}"`);
    await admin.query(`SET search_path TO "${s}"`);
    for (const sql of layout.setup({ events: 100, partitionRows: 25, partitions: 1 })) await admin.query(sql);
    await admin.query('RESET search_path');
    const insert = insertSql(s);
    const write = async (c: PoolClient, n: number) => {
      const b = eventBatch(n);
      await c.query(insert, [b.ids, b.aggregates, b.payloads, b.headers, b.parts]);
    };
    await open.query('BEGIN');
    await write(open, 1); // seq 1, not committed yet
    await write(admin, 5); // 2-6
    await admin.query('BEGIN');
    await write(admin, 1); // 7, rolled back
    await admin.query('ROLLBACK');
    await write(admin, 3); // 8-10
    const relay = new RelayLoop(0, layout, s, reader, marker, 2, false);
    await relay.drain();
    const whileOpen = await lease();
    const problems: string[] = [];
    if (relay.recorded !== 8) problems.push(`recorded ${relay.recorded} of the 8 committed events before seq 1 committed`);
    if (/^low_seq/.test(whileOpen) && !/^low_seq 0$/.test(whileOpen)) problems.push(`watermark passed the open seq 1: ${whileOpen}`);
    if (/skipped/.test(whileOpen) && !/skipped \{1,7\}/.test(whileOpen)) problems.push(`skipped should be {1,7} while seq 1 is open: ${whileOpen}`);
    await open.query('COMMIT');
    await relay.drain();
    if (relay.recorded !== 9) problems.push(`seq 1 committed late was not published (recorded ${relay.recorded} of 9)`);
    for (let round = 0; round < 3; round++) {
      await write(admin, 2);
      await relay.drain();
    }
    const atEnd = await lease();
    if (/skipped/.test(atEnd) && !/skipped \{\}/.test(atEnd)) problems.push(`skipped not pruned: ${atEnd}`);
    const verified = await layout.verify(admin, s, 15);
    if (verified) problems.push(verified);
    return `${problems.length === 0 ? 'ok' : `FAIL: ${problems.join('; ')}`}${whileOpen ? ` (while seq 1 was open: ${whileOpen}; at the end: ${atEnd})` : ''}`;
  } finally {
    await open.query('ROLLBACK').catch(() => undefined);
    await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => undefined);
    for (const c of [admin, reader, marker, open]) c.release();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Report

const MB = 1024 * 1024;
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (n: number) => (n / MB).toFixed(1);
const sec = (ms: number) => (ms / 1000).toFixed(2);

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function report(results: Result[], args: Args): string {
  const drain = table(
    ['layout', 'drain events/s', 'drain s', 'reads: n, ms', 'marks: n, ms', 'loop waited for marks ms', 'Postgres CPU µs/event', 'WAL MB (B/event)', 'FPI', 'heap MB', 'index MB', 'updated (HOT)', 'deleted', 'dead tuples', 'check'],
    results.map((r) => [
      r.key,
      int(r.perSec),
      sec(r.drainMs),
      `${r.reads}, ${int(r.readMs)}`,
      `${r.marks}, ${int(r.markMs)}`,
      int(r.markWaitMs),
      r.serverCpuMs === null ? '–' : ((r.serverCpuMs * 1000) / args.events).toFixed(1),
      `${mb(r.walBytes)} (${int(r.walBytes / args.events)})`,
      int(r.walFpi),
      mb(r.heapBytes),
      mb(r.indexBytes),
      `${int(r.stats.upd)} (${int(r.stats.hot)})`,
      int(r.stats.del),
      int(r.stats.dead),
      r.problem ? `FAIL: ${r.problem}` : 'ok',
    ]),
  );
  const upkeep = table(
    ['layout', 'fill events/s', 'fill WAL MB', 'VACUUM after drain s (WAL MB)', 'retention s (WAL MB)', 'rows removed', 'VACUUM after retention s (WAL MB)', 'WAL after the fill, B/event'],
    results.map((r) => [
      r.key,
      int(r.fillPerSec),
      mb(r.fillWalBytes),
      `${sec(r.vacuumMs)} (${mb(r.vacuumWalBytes)})`,
      `${sec(r.retentionMs)} (${mb(r.retentionWalBytes)})`,
      int(r.retentionRows),
      `${sec(r.vacuumAfterMs)} (${mb(r.vacuumAfterWalBytes)})`,
      int((r.walBytes + r.vacuumWalBytes + r.retentionWalBytes + r.vacuumAfterWalBytes) / args.events),
    ]),
  );
  const legend = results.map((r) => `- ${r.key}: ${r.title}`).join('\n');
  return `${legend}\n\nDrain (read + record, database side only):\n\n${drain}\n\nWriters and upkeep:\n\n${upkeep}\n`;
}

async function main(): Promise<void> {
  const args = commandLine('progress-layouts', HELP, parse);
  if (!args) return;
  const layouts = args.only ? LAYOUTS.filter((l) => args.only!.includes(l.key)) : LAYOUTS;
  const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 5, application_name: 'progress-layouts' });
  try {
    if (args.lateCheck) {
      for (const layout of layouts) {
        const outcome = await lateCheck(pool, layout);
        process.stdout.write(`${layout.key}: ${outcome}\n`);
        if (!outcome.startsWith('ok')) process.exitCode = 1;
      }
      return;
    }
    const info = await pool.query<{ v: string; av: string; sc: string; sb: string }>(
      `SELECT current_setting('server_version') AS v, current_setting('autovacuum') AS av,
              current_setting('synchronous_commit') AS sc, current_setting('shared_buffers') AS sb`,
    );
    const i = info.rows[0]!;
    process.stdout.write(
      `progress-layouts: ${int(args.events)} events per layout in ${args.partitions} partition(s), batch ${args.batch}, marks ${args.serial ? 'serial (each awaited)' : `in the background (at most ${MARKS_QUEUED} outstanding)`}, ` +
        `${args.checkpoint ? 'CHECKPOINT between fill and drain' : 'no CHECKPOINT between fill and drain'}\n` +
        `Postgres ${i.v} (autovacuum ${i.av}; off per table here anyway), synchronous_commit ${i.sc}, shared_buffers ${i.sb}; ` +
        `Node ${process.version}; ${os.cpus().length} CPUs; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${new Date().toISOString()}\n\n`,
    );
    const cp = { refused: false };
    const results: Result[] = [];
    for (const layout of layouts) {
      process.stderr.write(`${layout.key}: ${layout.title} ...`);
      const r = await runLayout(pool, layout, args, cp);
      process.stderr.write(` ${int(r.perSec)} events/s${r.problem ? ` FAIL: ${r.problem}` : ''}\n`);
      results.push(r);
    }
    process.stdout.write(`${report(results, args)}\nPayload ${int(results[0]?.payloadBytes ?? 0)} bytes of JSON on average; load at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
    if (results.some((r) => r.problem)) process.exitCode = 1;
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`progress-layouts: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
