-- Up Migration
-- Runs with search_path set to the inbox schema (INBOX_SCHEMA), so every name below lands in it.

-- One row per (consumer, event) processed, written in the same transaction as the handler's side effects: the
-- primary key is what makes a redelivered or re-published event a no-op. A second delivery racing the first
-- waits on the key until the first commits (then it is a duplicate) or rolls back (then it processes).
CREATE TABLE inbox (
  consumer      text NOT NULL,
  event_id      text NOT NULL,
  event_type    text NOT NULL,
  subject       text NOT NULL,
  stream_seq    bigint,
  attempts      integer NOT NULL DEFAULT 1,
  outcome       text NOT NULL DEFAULT 'processed' CHECK (outcome IN ('processed', 'dead_lettered')),
  processed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);
-- Retention deletes by age in small batches.
CREATE INDEX inbox_processed_at_idx ON inbox (processed_at);

-- Events a consumer gave up on after its retries (or could not parse). Written in the same transaction as the
-- consumer's inbox row (outcome 'dead_lettered') and whatever the consumer records about the failure.
CREATE TABLE inbox_dead_letters (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  consumer        text NOT NULL,
  event_id        text NOT NULL,
  event_type      text NOT NULL,
  subject         text NOT NULL,
  aggregate_type  text,
  aggregate_id    text,
  stream_seq      bigint,
  payload         jsonb,
  raw_payload     text,
  headers         jsonb NOT NULL,
  reason          text NOT NULL,
  attempts        integer NOT NULL CHECK (attempts >= 1),
  failed_at       timestamptz NOT NULL DEFAULT now(),
  resolved_at     timestamptz,
  resolution      text CHECK (resolution IN ('replayed', 'discarded')),
  CHECK ((resolved_at IS NULL) = (resolution IS NULL))
);
CREATE UNIQUE INDEX inbox_dead_letters_open_event_idx ON inbox_dead_letters (consumer, event_id) WHERE resolved_at IS NULL;
CREATE INDEX inbox_dead_letters_resolved_idx ON inbox_dead_letters (resolved_at) WHERE resolved_at IS NOT NULL;

-- Handler failures per event, each recorded in its own transaction after the handler's was rolled back. Retries
-- are counted here rather than by JetStream's delivery count, so redeliveries caused by a database outage or a
-- crashed worker do not use up an event's retries. Deleted when the event is finally processed or dead-lettered.
CREATE TABLE inbox_failures (
  consumer        text NOT NULL,
  event_id        text NOT NULL,
  failures        integer NOT NULL,
  last_error      text NOT NULL,
  first_failed_at timestamptz NOT NULL DEFAULT now(),
  last_failed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);

-- Down Migration
DROP TABLE inbox_failures;
DROP TABLE inbox_dead_letters;
DROP TABLE inbox;
