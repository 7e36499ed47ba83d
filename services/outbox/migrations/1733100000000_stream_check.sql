-- Up Migration
-- Runs with search_path set to the configured schema.

-- Where a holder of this partition must look in the stream before it publishes again. Messages of the partition
-- stored at stream sequences >= check_stream_from may belong to events that are not marked published yet (a
-- leader died after the stream acknowledged them, or marks failed, or acknowledgements were lost while NATS was
-- away). A new term, and a term after any failure, reads the stream from here and marks what it finds instead of
-- publishing it again, so no event is stored twice however long after its duplicate window that happens. Every
-- mark moves it forward; NULL means the last holder left with nothing unmarked (nothing to look at).
ALTER TABLE outbox_partitions ADD COLUMN check_stream_from bigint;

-- Down Migration
ALTER TABLE outbox_partitions DROP COLUMN check_stream_from;
