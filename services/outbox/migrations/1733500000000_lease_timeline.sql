-- Up Migration
-- Runs with search_path set to the configured schema.

-- The timeline this server writes WAL on (the first 8 hex digits of the current WAL file's name), or NULL where
-- the WAL functions are refused (some managed services). A promotion starts a new timeline. Not callable during
-- recovery, where no lease is written.
CREATE FUNCTION outbox_wal_timeline() RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::integer;
EXCEPTION WHEN insufficient_privilege OR undefined_function OR feature_not_supported THEN
  RETURN NULL;
END
$$;

-- The timeline a lease row was last written on. With asynchronous replication, the promoted standby's copy of a
-- row can be older than what the dead primary had: its holder's last renewals (by the copy the lease has expired
-- while the holder, by its own deadline, still publishes), the holder's acquisition (the copy does not know where
-- that term's messages are in the stream) and its marks (events already published are pending again). A relay
-- that finds a row from an earlier timeline therefore (src/election/lease.ts):
--   * does not take a held row at once but gives it a full lease from now, which ends after any deadline its
--     holder can have computed before the primary died; the holder's renewals stop (they require the row's
--     timeline to be the server's), so it looks at the stream when it leads again;
--   * records in check_stream_since where the next holder must look in the stream: from the time the oldest
--     pending event of the partition was created (every message of a pending event was stored after it), less a
--     minute for the clocks of Postgres and NATS. The look clears it.
-- The rows existing now are on this server's timeline.
ALTER TABLE outbox_partitions ADD COLUMN timeline integer DEFAULT outbox_wal_timeline();
ALTER TABLE outbox_partitions ADD COLUMN check_stream_since timestamptz;

-- Down Migration
ALTER TABLE outbox_partitions DROP COLUMN check_stream_since;
ALTER TABLE outbox_partitions DROP COLUMN timeline;
DROP FUNCTION outbox_wal_timeline();
