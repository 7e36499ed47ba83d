-- Up Migration
-- A consumer's dead letter keeps the payload's bytes as they arrived (the writer's, see the outbox's migration
-- 1733400000000_payload_json.sql), so that `outboxctl dlq replay c<n>` publishes the event again byte for byte: json
-- keeps the text verbatim, jsonb reordered its keys and normalized it. Rows already here keep jsonb's text.
ALTER TABLE inbox_dead_letters ALTER COLUMN payload TYPE json USING payload::json;

-- Down Migration
ALTER TABLE inbox_dead_letters ALTER COLUMN payload TYPE jsonb USING payload::jsonb;
