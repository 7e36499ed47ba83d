-- Up Migration
-- Runs with search_path set to the configured schema.

-- Relay instances taking part in partition balancing: a heartbeat row each, judged by the database clock like the
-- leases. Every instance reads the live members and the live leases, computes the same fair share per member
-- (partitions / members, the remainder going to those already holding most) and acquires or gracefully releases
-- partitions to reach its share. `yield_until` ranks a member that was asked to step down last for a while, so
-- its partitions go to someone else instead of straight back to it.
CREATE TABLE outbox_members (
  instance_id  text PRIMARY KEY,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  yield_until  timestamptz NOT NULL DEFAULT '-infinity'
);

-- Down Migration
DROP TABLE outbox_members;
