-- Up Migration
-- The outbox is a queue: every event is inserted, updated once (marked published) and deleted by retention. Each
-- mark leaves a dead entry in the pending index that the relay's reads step over until VACUUM removes it, so the
-- defaults (vacuum after 20 % of the table changed) let reads slow down as the backlog drains. Vacuum and analyze
-- this table after about 1 % instead. (Only takes effect where autovacuum is on, as it is by default.)
ALTER TABLE outbox SET (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_insert_scale_factor = 0.01,
  autovacuum_analyze_scale_factor = 0.01,
  autovacuum_vacuum_cost_delay = 0
);

-- Down Migration
ALTER TABLE outbox RESET (
  autovacuum_vacuum_scale_factor, autovacuum_vacuum_insert_scale_factor, autovacuum_analyze_scale_factor,
  autovacuum_vacuum_cost_delay
);
