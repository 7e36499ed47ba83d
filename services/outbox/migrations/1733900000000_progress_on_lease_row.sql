-- Up Migration
-- Runs with search_path set to the configured schema.

-- Progress is recorded per batch on the lease row, no longer per event (scripts/bench/progress-layouts.md, layout
-- D1). Until now every published event was written a second time (`UPDATE outbox SET published_at`): a new row
-- version on another page, an entry in each index, a dead tuple for VACUUM, about 0.8 of a core of Postgres work at
-- the relay's drain rate. Now an event row is written once, by its writer, and deleted once, by retention.
--
-- What "published" means (the views below say it once for every reader): an event of partition p with seq s is
-- published when s <= read_upto(p) and s is not in skipped(p), or when its row carries a published_at (events
-- published before this migration, by relays of the previous version).
--   * read_upto: the relay's marks move it to the highest seq they record;
--   * skipped: seqs <= read_upto that are not published and might still be, or become, events of p: events of p
--     left out of a mark (not acknowledged), and seqs no one could see yet (a writer still running, or rolled back);
--   * final_upto: every seq <= final_upto is final: committed (and visible to every snapshot taken since) or never
--     will be. A mark drops from skipped the final seqs that are not events of p, and leaves out the final seqs
--     that are not events of p when it moves read_upto, so skipped holds only what is truly open.
--
-- How final_upto is known without touching writers (the checkpoint): a mark reads v, the outbox sequence's last
-- value, then w, the transactions holding the partition map's lock now, and keeps (ck_seq, ck_writers) = (v, w).
-- Every writer takes that lock (shared, until it commits or rolls back) before its rows draw their seqs
-- (1733200000000, and the statement trigger below for inserts that do not go through enqueue), so a transaction that
-- drew a seq <= v held the lock when w was read: it has ended or it is in w. A later mark that finds none of w
-- holding the lock sets final_upto = v. Transactions are named by virtual transaction id; only writers of this
-- outbox can hold a checkpoint back, never unrelated long transactions. The identity sequence keeps CACHE 1 (a
-- backend's cached values could be drawn after v was read).
--
-- Order per aggregate holds as before: a later event t of aggregate X drew its seq after X's earlier event s
-- committed, so no snapshot shows t without s; a read returns the lowest pending seqs in seq order (the skipped
-- ones, and any committed late behind the relay's own cursor, included: see outbox_read_pending).
--
-- Relays of the previous version are fenced off: their read functions are dropped, so they can no longer read, and
-- so no longer publish, from this schema. A mark of theirs still in flight sets published_at on the events it
-- publishes, which still counts.

-- Every insert holds the partition map's lock before its rows draw their seqs. enqueue() and the TypeScript
-- writers take it already (re-taking a held shared lock is free); an INSERT by hand or a COPY would otherwise be
-- unknown to the checkpoint. A BEFORE STATEMENT trigger fires before the statement produces its first row.
CREATE FUNCTION outbox_insert_takes_partition_map() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(hashtext('outbox_partition_map'), hashtext(current_schema()));
  RETURN NULL;
END
$$;
CREATE TRIGGER outbox_insert_takes_partition_map BEFORE INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_insert_takes_partition_map();

-- The transactions holding the partition map's lock (granted: a writer still waiting for it draws its seqs after it
-- gets it, so after any v read now). pg_locks shows an advisory lock's two int4 keys as unsigned oids.
CREATE FUNCTION outbox_writers() RETURNS text[]
LANGUAGE sql VOLATILE
SET search_path FROM CURRENT
AS $$
  SELECT coalesce(array_agg(l.virtualtransaction), '{}') FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.granted
    AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
    AND l.classid = (hashtext('outbox_partition_map')::int8 & 4294967295)::oid
    AND l.objid = (hashtext(current_schema())::int8 & 4294967295)::oid
    AND l.objsubid = 2
$$;

CREATE FUNCTION outbox_sequence_head() RETURNS bigint
LANGUAGE sql VOLATILE
SET search_path FROM CURRENT
AS $$
  SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('outbox', 'seq')::regclass), 0)
$$;

ALTER TABLE outbox_partitions
  ADD COLUMN read_upto bigint NOT NULL DEFAULT 0,
  ADD COLUMN skipped bigint[] NOT NULL DEFAULT '{}',
  ADD COLUMN final_upto bigint NOT NULL DEFAULT 0,
  ADD COLUMN ck_seq bigint,
  ADD COLUMN ck_writers text[],
  ADD COLUMN ck_checked_at timestamptz;

-- Who published what, and when: one row per mark (one per batch, not per event). Retention deletes the events of
-- a mark once the mark is older than the retention period; `published_at` and `published_epoch` in the
-- outbox_published view come from here.
CREATE TABLE outbox_marks (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  partition integer NOT NULL,
  epoch     bigint NOT NULL,
  marked_at timestamptz NOT NULL DEFAULT now(),
  low_seq   bigint NOT NULL,
  high_seq  bigint NOT NULL,
  seqs      bigint[] NOT NULL
);
CREATE INDEX outbox_marks_seq_idx ON outbox_marks (partition, high_seq);

-- The starting point, with no writer in flight: nothing of this outbox is written while the migration holds the
-- partition map exclusively, so every seq drawn so far is final. A partition has read everything below its lowest
-- pending event (events published before are told by their published_at).
SELECT pg_advisory_xact_lock(hashtext('outbox_partition_map'), hashtext(current_schema()));
UPDATE outbox_partitions p
SET final_upto = h.head,
    read_upto = coalesce((SELECT min(o.seq) - 1 FROM outbox o WHERE o.partition = p.partition AND o.published_at IS NULL), h.head)
FROM (SELECT outbox_sequence_head() AS head) h;

-- Events published before (published_at set) get marks too, one per partition, epoch and second of publication, so
-- that retention has one way to find what it may delete (by the marks) and never walks the table for them.
INSERT INTO outbox_marks (partition, epoch, marked_at, low_seq, high_seq, seqs)
SELECT o.partition, coalesce(o.published_epoch, 0), max(o.published_at), min(o.seq), max(o.seq), array_agg(o.seq ORDER BY o.seq)
FROM outbox o WHERE o.published_at IS NOT NULL
GROUP BY o.partition, o.published_epoch, date_trunc('second', o.published_at);

-- The relay's read. Three ordered index probes of the partition's events (the partial index still serves: rows
-- are no longer written after their insert, so its predicate holds for every new row):
--   ahead:   after the relay's cursor p_from (its own, in memory, for this session; the lease row's read_upto when
--            null), leaving out p_exclude (the seqs of its batches in flight and being marked);
--   behind:  between the lease row's read_upto and p_from, from above p_rescan_from: events that committed after a
--            read of this session passed their seq and before that read's mark recorded it as skipped. p_rescan_from
--            is the final_upto the oldest such read saw (everything at or below it was visible to it then); null
--            when the relay has no batch unrecorded, and then nothing is behind the cursor but skipped seqs;
--   skipped: the lease row's skipped seqs that are events now.
-- At most p_limit events and p_max_bytes of payloads and headers (1733700000000), in seq order. Each row also says
-- the final_upto the read saw. Fenced as before: nothing comes back unless p_holder holds the lease at p_epoch.
-- PL/pgSQL, so the plan is made once per connection and kept (a SQL function's statements are planned at every
-- call, and this one's three branches cost more to plan than to run when a read finds a few events); generic, as
-- the planner cannot know the backlog behind the parameters anyway.
CREATE FUNCTION outbox_read_pending(p_partition integer, p_holder text, p_epoch bigint, p_exclude bigint[], p_limit integer,
                                    p_max_bytes bigint, p_from bigint, p_rescan_from bigint)
RETURNS TABLE (seq text, id uuid, partition integer, aggregate_type text, aggregate_id text, event_type text,
               payload text, headers jsonb, created_at timestamptz, final_upto bigint)
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
SET enable_sort = off
SET enable_bitmapscan = off
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  -- The lease row's values reach the branches as scalar subqueries (parameters of ordered index scans), not as a
  -- join: a join's output is ordered like its outer side, and the planner would sort the whole backlog instead.
  WITH lease AS MATERIALIZED (
    SELECT l.final_upto, l.skipped, coalesce(p_from, l.read_upto) AS cursor,
           greatest(l.read_upto, coalesce(p_rescan_from, l.final_upto)) AS rescan_from
    FROM outbox_partitions l
    WHERE l.partition = p_partition AND l.holder = p_holder AND l.epoch = p_epoch AND l.expires_at > now()),
  chosen AS (
    SELECT o.seq, o.id, o.partition, o.aggregate_type, o.aggregate_id, o.event_type, o.payload::text AS payload,
           o.headers, o.created_at, octet_length(o.payload::text) + octet_length(o.headers::text) AS bytes
    FROM ((SELECT * FROM outbox a
           WHERE a.partition = p_partition AND a.seq > (SELECT cursor FROM lease) AND a.published_at IS NULL
             AND a.seq NOT IN (SELECT unnest(p_exclude))
           ORDER BY a.seq LIMIT p_limit)
          UNION ALL
          (SELECT * FROM outbox b
           WHERE b.partition = p_partition AND b.seq > (SELECT rescan_from FROM lease) AND b.seq <= (SELECT cursor FROM lease)
             AND b.published_at IS NULL AND b.seq NOT IN (SELECT unnest(p_exclude))
           ORDER BY b.seq LIMIT p_limit)
          UNION ALL
          -- Along the primary key: an array probe of an index's first column comes out in order, of its second
          -- (the pending index's seq) not, and with sorts off the planner would rather walk the whole partition.
          -- `partition + 0` keeps the pending index out of it.
          (SELECT * FROM outbox s
           WHERE s.seq = ANY ((SELECT skipped FROM lease)::bigint[]) AND s.partition + 0 = p_partition AND s.published_at IS NULL
             AND s.seq NOT IN (SELECT unnest(p_exclude))
           ORDER BY s.seq)) o
    ORDER BY o.seq LIMIT p_limit),
  counted AS (
    SELECT c.*, sum(c.bytes) OVER (ORDER BY c.seq ROWS UNBOUNDED PRECEDING) AS running_bytes FROM chosen c)
  SELECT c.seq::text, c.id, c.partition, c.aggregate_type, c.aggregate_id, c.event_type, c.payload, c.headers,
         c.created_at, (SELECT l.final_upto FROM lease l)
  FROM counted c
  WHERE c.running_bytes <= p_max_bytes OR c.running_bytes = c.bytes
  ORDER BY c.seq;
END
$$;

-- A mark: records the events p_seqs (acknowledged by the stream) as published, in one fenced update of the lease
-- row, which it locks as the previous marks did (a successor's acquisition waits for it and sees its progress).
-- Returns how many events it recorded, or NULL when p_holder no longer holds the partition at p_epoch. With no
-- events it only moves the checkpoint (and read_upto over final seqs), as the relay does now and then when idle.
-- The checkpoint is looked at (pg_locks, which briefly holds the lock manager) at most every p_checkpoint_every_ms:
-- at 5,000 events/s a mark per batch would otherwise read it a hundred times a second for nothing.
-- p_check_from: where a successor looks in the stream once this commits (stream-check.ts). p_stream_checked: this
-- mark settles a look at the stream (p_seqs are the events found there), so p_check_from is recorded even with no
-- events (null: nothing left to look for) and the time the lease row asked to look from (1733500000000) is cleared.
CREATE FUNCTION outbox_mark(p_partition integer, p_holder text, p_epoch bigint, p_seqs bigint[], p_last_seq bigint,
                            p_last_id uuid, p_check_from bigint, p_stream_checked boolean DEFAULT false,
                            p_checkpoint_every_ms integer DEFAULT 0)
RETURNS integer
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
  lease outbox_partitions;
  v bigint;
  w text[];
  looked boolean;
  renewed boolean;
  events constant integer := coalesce(cardinality(p_seqs), 0);
  upto bigint;
  final bigint;
  skip bigint[];
BEGIN
  SELECT * INTO lease FROM outbox_partitions
  WHERE outbox_partitions.partition = p_partition AND holder = p_holder AND epoch = p_epoch FOR UPDATE;
  IF NOT FOUND THEN RETURN NULL; END IF;
  final := lease.final_upto;
  looked := lease.ck_checked_at IS NULL
            OR clock_timestamp() - lease.ck_checked_at >= make_interval(secs => p_checkpoint_every_ms / 1000.0);
  IF looked THEN
    -- The sequence first, then the writers (see the checkpoint above).
    v := outbox_sequence_head();
    w := outbox_writers();
    -- The previous checkpoint has matured: every writer that could still commit a seq <= ck_seq has ended.
    IF lease.ck_seq IS NOT NULL AND NOT (coalesce(lease.ck_writers, '{}') && w) THEN
      final := greatest(final, lease.ck_seq);
    END IF;
  END IF;
  renewed := looked AND (lease.ck_seq IS NULL OR final >= lease.ck_seq);
  upto := greatest(lease.read_upto, coalesce((SELECT max(x) FROM unnest(p_seqs) x), lease.read_upto));
  skip := ARRAY(
    -- Still open: the skipped seqs this mark does not publish, unless final and not an event of the partition.
    SELECT x FROM unnest(lease.skipped) x
    WHERE x NOT IN (SELECT unnest(p_seqs))
      AND (x > final OR EXISTS (SELECT 1 FROM outbox o WHERE o.seq = x AND o.partition = p_partition AND o.published_at IS NULL))
    UNION
    -- Events of the partition that read_upto now passes without this mark publishing them (not acknowledged).
    SELECT o.seq FROM outbox o
    WHERE o.partition = p_partition AND o.seq > lease.read_upto AND o.seq <= upto AND o.published_at IS NULL
      AND o.seq NOT IN (SELECT unnest(p_seqs))
    UNION
    -- Seqs read_upto now passes that are not final and not another partition's events: they may still commit.
    SELECT g FROM generate_series(greatest(lease.read_upto, final) + 1, upto) g
    WHERE g NOT IN (SELECT unnest(p_seqs))
      AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.seq = g AND o.partition <> p_partition)
    ORDER BY 1);
  -- Over final seqs read_upto may go on to the partition's next pending event: an idle partition keeps up with the
  -- sequence, so its next mark does not have to look at every seq the other partitions drew meanwhile.
  IF final > upto THEN
    upto := least(final, coalesce((SELECT min(o.seq) - 1 FROM outbox o
                                   WHERE o.partition = p_partition AND o.seq > upto AND o.published_at IS NULL), final));
  END IF;
  UPDATE outbox_partitions
  SET read_upto = upto, skipped = skip, final_upto = final,
      -- A new checkpoint once the last has matured (or none was taken): (v, w) as this mark read them.
      ck_seq = CASE WHEN renewed THEN v ELSE lease.ck_seq END,
      ck_writers = CASE WHEN renewed THEN w ELSE lease.ck_writers END,
      ck_checked_at = CASE WHEN looked THEN clock_timestamp() ELSE lease.ck_checked_at END,
      published_total = published_total + events,
      last_published_seq = CASE WHEN events > 0 THEN p_last_seq ELSE last_published_seq END,
      last_published_id = CASE WHEN events > 0 THEN p_last_id ELSE last_published_id END,
      last_published_at = CASE WHEN events > 0 THEN now() ELSE last_published_at END,
      check_stream_from = CASE WHEN events > 0 OR p_stream_checked THEN p_check_from ELSE check_stream_from END,
      check_stream_since = CASE WHEN p_stream_checked THEN NULL ELSE check_stream_since END
  WHERE outbox_partitions.partition = p_partition;
  IF events > 0 THEN
    INSERT INTO outbox_marks (partition, epoch, low_seq, high_seq, seqs)
    SELECT p_partition, p_epoch, min(x), max(x), array_agg(x ORDER BY x) FROM unnest(p_seqs) x;
  END IF;
  RETURN events;
END
$$;

-- The views (1733800000000) keep their columns and now say what the lease rows say. Rows of a partition that no
-- longer exists (the count was lowered, which needs every event published first) are published.
CREATE OR REPLACE VIEW outbox_pending AS
  SELECT o.seq, o.id, o.partition, o.aggregate_type, o.aggregate_id, o.event_type, o.payload, o.headers, o.created_at
  FROM outbox o JOIN outbox_partitions l ON l.partition = o.partition
  WHERE o.published_at IS NULL AND o.seq > l.read_upto
  UNION ALL
  SELECT o.seq, o.id, o.partition, o.aggregate_type, o.aggregate_id, o.event_type, o.payload, o.headers, o.created_at
  FROM outbox o JOIN outbox_partitions l ON l.partition = o.partition
  WHERE o.published_at IS NULL AND o.seq = ANY (l.skipped) AND o.seq <= l.read_upto;

CREATE OR REPLACE VIEW outbox_published AS
  SELECT o.seq, o.id, o.partition, o.aggregate_type, o.aggregate_id, o.event_type, o.payload, o.headers, o.created_at,
         coalesce(o.published_at, m.marked_at) AS published_at, coalesce(o.published_epoch, m.epoch) AS published_epoch
  FROM outbox o
  LEFT JOIN outbox_partitions l ON l.partition = o.partition
  LEFT JOIN LATERAL (
    SELECT k.marked_at, k.epoch FROM outbox_marks k
    WHERE k.partition = o.partition AND k.high_seq >= o.seq AND k.low_seq <= o.seq AND o.seq = ANY (k.seqs)
    ORDER BY k.high_seq LIMIT 1) m ON o.published_at IS NULL
  WHERE o.published_at IS NOT NULL OR l.partition IS NULL OR (o.seq <= l.read_upto AND NOT (o.seq = ANY (l.skipped)));

DROP FUNCTION outbox_read_pending(integer, text, bigint, bigint[], integer);
DROP FUNCTION outbox_read_pending(integer, text, bigint, bigint[], integer, bigint);

-- Down Migration
-- Events published since are marked the old way first, so relays of the previous version do not publish them again.
SELECT pg_advisory_xact_lock(hashtext('outbox_partition_map'), hashtext(current_schema()));
UPDATE outbox o SET published_at = m.marked_at, published_epoch = m.epoch
FROM (SELECT k.marked_at, k.epoch, unnest(k.seqs) AS seq FROM outbox_marks k) m
WHERE o.seq = m.seq AND o.published_at IS NULL;
CREATE OR REPLACE VIEW outbox_pending AS
  SELECT seq, id, partition, aggregate_type, aggregate_id, event_type, payload, headers, created_at
  FROM outbox WHERE published_at IS NULL;
CREATE OR REPLACE VIEW outbox_published AS
  SELECT seq, id, partition, aggregate_type, aggregate_id, event_type, payload, headers, created_at, published_at, published_epoch
  FROM outbox WHERE published_at IS NOT NULL;
DROP FUNCTION outbox_mark(integer, text, bigint, bigint[], bigint, uuid, bigint, boolean, integer);
DROP FUNCTION outbox_read_pending(integer, text, bigint, bigint[], integer, bigint, bigint, bigint);
-- The reads of 1733000000000 and 1733700000000, as they were.
CREATE FUNCTION outbox_read_pending(p_partition integer, p_holder text, p_epoch bigint, p_exclude bigint[], p_limit integer)
RETURNS TABLE (seq text, id uuid, partition integer, aggregate_type text, aggregate_id text, event_type text,
               payload text, headers jsonb, created_at timestamptz)
LANGUAGE sql STABLE
SET search_path FROM CURRENT
SET enable_sort = off
SET enable_bitmapscan = off
AS $$
  SELECT o.seq::text, o.id, o.partition, o.aggregate_type, o.aggregate_id, o.event_type, o.payload::text, o.headers,
         o.created_at
  FROM outbox o
  WHERE o.partition = p_partition AND o.published_at IS NULL AND o.seq NOT IN (SELECT unnest(p_exclude))
    AND EXISTS (SELECT 1 FROM outbox_partitions p
                WHERE p.partition = p_partition AND p.holder = p_holder AND p.epoch = p_epoch AND p.expires_at > now())
  ORDER BY o.seq
  LIMIT p_limit
$$;
CREATE FUNCTION outbox_read_pending(p_partition integer, p_holder text, p_epoch bigint, p_exclude bigint[], p_limit integer,
                                    p_max_bytes bigint)
RETURNS TABLE (seq text, id uuid, partition integer, aggregate_type text, aggregate_id text, event_type text,
               payload text, headers jsonb, created_at timestamptz)
LANGUAGE sql STABLE
SET search_path FROM CURRENT
SET enable_sort = off
SET enable_bitmapscan = off
AS $$
  SELECT r.seq::text, r.id, r.partition, r.aggregate_type, r.aggregate_id, r.event_type, r.payload, r.headers, r.created_at
  FROM (
    SELECT w.*, sum(w.bytes) OVER (ORDER BY w.seq ROWS UNBOUNDED PRECEDING) AS running_bytes
    FROM (
      SELECT o.seq, o.id, o.partition, o.aggregate_type, o.aggregate_id, o.event_type, o.payload::text AS payload,
             o.headers, o.created_at, octet_length(o.payload::text) + octet_length(o.headers::text) AS bytes
      FROM outbox o
      WHERE o.partition = p_partition AND o.published_at IS NULL AND o.seq NOT IN (SELECT unnest(p_exclude))
        AND EXISTS (SELECT 1 FROM outbox_partitions p
                    WHERE p.partition = p_partition AND p.holder = p_holder AND p.epoch = p_epoch AND p.expires_at > now())
      ORDER BY o.seq
      LIMIT p_limit
    ) w
  ) r
  WHERE r.running_bytes <= p_max_bytes OR r.running_bytes = r.bytes
  ORDER BY r.seq
$$;
DROP TABLE outbox_marks;
ALTER TABLE outbox_partitions DROP COLUMN read_upto, DROP COLUMN skipped, DROP COLUMN final_upto, DROP COLUMN ck_seq,
  DROP COLUMN ck_writers, DROP COLUMN ck_checked_at;
DROP TRIGGER outbox_insert_takes_partition_map ON outbox;
DROP FUNCTION outbox_insert_takes_partition_map();
DROP FUNCTION outbox_writers();
DROP FUNCTION outbox_sequence_head();
