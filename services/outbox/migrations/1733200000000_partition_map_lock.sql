-- Up Migration
-- Runs with search_path set to the configured schema.

-- The partition count writers hash aggregates with, read under a lock that a change of the count takes
-- exclusively. A writer holds the lock (shared, until its transaction ends) from the moment it reads the count, so
-- `configurePartitions` (outboxctl migrate --partitions) waits for every transaction that already wrote events
-- under the old count to commit or roll back, and writers that come later wait for the change and see the new
-- count. Without it, a transaction that read the count before a change and committed after it would land in a
-- partition that no longer exists (never published), or put one aggregate in two partitions with two leaders.
--
-- VOLATILE so that, in READ COMMITTED, the read after the lock takes a fresh snapshot: the calling statement's
-- snapshot may predate a change that committed while it waited. In REPEATABLE READ and SERIALIZABLE the
-- transaction's snapshot is fixed; a row lock then makes a writer whose snapshot predates a change fail with a
-- serialization error (40001) instead of writing with the old count. The lock keys are hashes of a constant and
-- the schema name, the same expression `configurePartitions` uses.
CREATE FUNCTION outbox_writer_partitions() RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
AS $$
DECLARE
  n integer;
BEGIN
  PERFORM pg_advisory_xact_lock_shared(hashtext('outbox_partition_map'), hashtext(current_schema()));
  IF current_setting('transaction_isolation') = 'read committed' THEN
    SELECT partitions INTO n FROM outbox_settings;
  ELSE
    SELECT partitions INTO n FROM outbox_settings FOR SHARE;
  END IF;
  RETURN n;
END
$$;

-- Down Migration
DROP FUNCTION outbox_writer_partitions();
