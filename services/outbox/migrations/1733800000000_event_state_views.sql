-- Up Migration
-- Runs with search_path set to the configured schema, so every name below lands in it.

-- Which events are pending and which are published, said once. These two views are the contract for every reader
-- that only needs an event's state: status (outboxctl), replay, the backlog metric, the lease's look-back
-- (check_stream_since), the drain wait of a partition count change, the tests and the chaos auditors. Only the
-- relay's read and mark (src/relay/reader.ts, migration 1733000000000's outbox_read_pending) and retention
-- (src/maintenance/retention.ts) know how progress is stored: today published_at per row. When that changes (progress
-- recorded on the lease row instead), these views change with it and their readers do not.
--
-- Plain simple views (one table, no aggregates, DISTINCT or LIMIT), so the planner inlines them into the query that
-- reads them: `SELECT ... FROM outbox_pending WHERE partition = $1 ORDER BY seq` is planned as the same query on
-- outbox and walks the partial index outbox_pending_idx ((partition, seq) WHERE published_at IS NULL), as the
-- relay's own read does (test/event-state-views.test.ts checks the plan). The columns are listed, not `*`: a view's
-- `*` is expanded once, at creation. They depend on the outbox's columns: a later migration that changes the type of
-- one of them must drop and create these views again around its ALTER.
CREATE VIEW outbox_pending AS
  SELECT seq, id, partition, aggregate_type, aggregate_id, event_type, payload, headers, created_at
  FROM outbox
  WHERE published_at IS NULL;

CREATE VIEW outbox_published AS
  SELECT seq, id, partition, aggregate_type, aggregate_id, event_type, payload, headers, created_at, published_at,
         published_epoch
  FROM outbox
  WHERE published_at IS NOT NULL;

COMMENT ON VIEW outbox_pending IS
  'Outbox events not published yet. The readers'' contract for "pending" (migration 1733800000000); only the relay''s read and mark and retention know how progress is stored.';
COMMENT ON VIEW outbox_published IS
  'Outbox events published, with when (published_at) and by which lease epoch (published_epoch). The readers'' contract for "published" (migration 1733800000000).';

-- Down Migration
DROP VIEW outbox_published;
DROP VIEW outbox_pending;
