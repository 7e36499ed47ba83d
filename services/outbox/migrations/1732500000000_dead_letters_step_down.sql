-- Up Migration
-- Runs with search_path set to the configured schema.

-- Events the relay could not publish however often it tried (a permanent error for that one event, such as a
-- payload above the stream's limit). The relay moves a row here (delete + insert, one fenced transaction) after
-- OUTBOX_MAX_PUBLISH_ATTEMPTS tries and carries on with the rest. `outboxctl dlq replay` moves it back into the
-- outbox under its original id (a new seq), `outboxctl dlq discard` resolves it without publishing.
CREATE TABLE outbox_dead_letters (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id        uuid NOT NULL,
  seq             bigint NOT NULL,
  partition       integer NOT NULL,
  aggregate_type  text NOT NULL,
  aggregate_id    text NOT NULL,
  event_type      text NOT NULL,
  payload         jsonb NOT NULL,
  headers         jsonb NOT NULL,
  created_at      timestamptz NOT NULL,
  reason          text NOT NULL,
  attempts        integer NOT NULL CHECK (attempts >= 1),
  failed_at       timestamptz NOT NULL DEFAULT now(),
  failed_epoch    bigint NOT NULL,
  resolved_at     timestamptz,
  resolution      text CHECK (resolution IN ('replayed', 'discarded')),
  CHECK ((resolved_at IS NULL) = (resolution IS NULL))
);
-- One open dead letter per event; a replayed event that fails again gets a new row.
CREATE UNIQUE INDEX outbox_dead_letters_open_event_idx ON outbox_dead_letters (event_id) WHERE resolved_at IS NULL;
CREATE INDEX outbox_dead_letters_resolved_idx ON outbox_dead_letters (resolved_at) WHERE resolved_at IS NOT NULL;

-- `outboxctl step-down` writes the epoch it wants to end; the holder of exactly that epoch releases the lease at
-- its next renewal (or at once when the NOTIFY reaches it). Keyed by epoch so a request never ends a later term.
ALTER TABLE outbox_partitions ADD COLUMN step_down_epoch bigint;

-- Down Migration
ALTER TABLE outbox_partitions DROP COLUMN step_down_epoch;
DROP TABLE outbox_dead_letters;
