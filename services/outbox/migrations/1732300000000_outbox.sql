-- Up Migration
-- Runs with search_path set to the configured schema, so every name below lands in it.

-- One row: how many partitions events are spread over (hash of the aggregate). Writers read it at insert time,
-- so every writer agrees with every relay without sharing configuration.
CREATE TABLE outbox_settings (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  partitions integer NOT NULL DEFAULT 1 CHECK (partitions BETWEEN 1 AND 1024)
);
INSERT INTO outbox_settings DEFAULT VALUES;

-- seq is taken after the writer holds the aggregate's advisory lock (see enqueue), so for one aggregate
-- seq order is commit order. Rows are read by state (published_at IS NULL), never by a seq cursor.
CREATE TABLE outbox (
  seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id              uuid NOT NULL UNIQUE,
  partition       integer NOT NULL,
  aggregate_type  text NOT NULL,
  aggregate_id    text NOT NULL,
  event_type      text NOT NULL,
  payload         jsonb NOT NULL,
  headers         jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  published_at    timestamptz,
  published_epoch bigint
);
CREATE INDEX outbox_pending_idx ON outbox (partition, seq) WHERE published_at IS NULL;

-- Lease (heartbeat) and progress, one row per partition. Judged by the database clock only.
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
  published_total    bigint NOT NULL DEFAULT 0
);
INSERT INTO outbox_partitions (partition) VALUES (0);

-- Down Migration
DROP TABLE outbox_partitions;
DROP TABLE outbox;
DROP TABLE outbox_settings;
