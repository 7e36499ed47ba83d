-- Up Migration
-- The relay's read, as a function so that it carries its own planner settings in ONE round trip. The read must
-- walk the pending index in seq order and stop after p_limit rows. Planner statistics say otherwise exactly when
-- it matters: a table never analyzed, or analyzed while almost nothing was pending, is estimated to hold a
-- handful of pending rows, so the planner picks a bitmap scan of ALL pending rows plus a sort. On a sudden
-- 200k-event backlog that cost 100-400 ms per 1000-event read instead of about 1 ms (BENCHMARKS.md). Without
-- sorts and bitmap scans only the ordered index scans are left. The fence: nothing is returned unless p_holder
-- still holds the partition's lease at p_epoch. p_exclude (up to two batches of seqs whose marks are in flight)
-- is tested through a hashed subplan: the function is planned without the array's value, and "<> ALL(array)"
-- would then compare every row with every element.
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

-- Down Migration
DROP FUNCTION outbox_read_pending(integer, text, bigint, bigint[], integer);
