-- Up Migration
-- Runs with search_path set to the configured schema.

-- The relay's read (1733000000000_read_pending.sql) with a bound in bytes as well as in rows. A read holds its
-- events in the relay's memory until they are acknowledged and marked, and events may be up to the writers'
-- limit (512 KiB by default): 1000 of them would be half a gigabyte, which no relay pod holds, and a relay killed
-- for memory on every read would stall its partition for good. So a read returns the longest run of pending
-- events, in seq order, whose payloads and headers together stay within p_max_bytes, and always at least the first
-- one, whatever its size. Rows are counted as the relay receives them (payload text, headers serialized).
--
-- The rows are chosen exactly as before (the same ordered walk of the pending index, at most p_limit of them);
-- the running total is a window over those rows in seq order, so it adds no sort. The five-argument function
-- stays for relays of the previous version during a rolling upgrade.
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

-- Down Migration
DROP FUNCTION outbox_read_pending(integer, text, bigint, bigint[], integer, bigint);
