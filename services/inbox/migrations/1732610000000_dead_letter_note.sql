-- Up Migration
-- Why a dead letter was resolved (e.g. `outboxctl dlq discard --reason`), kept for the audit trail.
ALTER TABLE inbox_dead_letters ADD COLUMN resolution_note text;

-- Down Migration
ALTER TABLE inbox_dead_letters DROP COLUMN resolution_note;
