-- Up Migration
-- Runs with search_path set to the configured schema.

-- The WAL timeline of the server a lease row was last acquired or renewed on. A promotion starts a new timeline,
-- and with asynchronous replication the promoted standby's copy of a lease row can be older than what its holder
-- last renewed on the dead primary: by the standby's copy the lease may have expired while the holder, by its own
-- deadline, still publishes. An acquisition that finds a held row from an earlier timeline therefore does not take
-- it; it gives the row a full lease from now on the new timeline (the holder may renew it there), which ends after
-- any deadline the holder can have computed before the primary died. NULL (rows from before this migration, or a
-- server that hides its WAL functions): no such grace.
ALTER TABLE outbox_partitions ADD COLUMN timeline integer;

-- The timeline this server writes WAL on (the first 8 hex digits of the current WAL file's name), or NULL where
-- the WAL functions are refused (some managed services). Not callable during recovery, where no lease is written.
CREATE FUNCTION outbox_wal_timeline() RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::integer;
EXCEPTION WHEN insufficient_privilege OR undefined_function OR feature_not_supported THEN
  RETURN NULL;
END
$$;

-- Down Migration
DROP FUNCTION outbox_wal_timeline();
ALTER TABLE outbox_partitions DROP COLUMN timeline;
