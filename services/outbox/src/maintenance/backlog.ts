import type { Pool } from 'pg';
import { outboxTables } from '../schema/names';

export interface PartitionBacklog {
  partition: number;
  /** Unpublished events. */
  pending: number;
  /** Age of the oldest unpublished event (database clock), 0 when none. */
  oldestPendingAgeSeconds: number;
  /** Lease holder, when the lease is live. */
  holder: string | null;
  epoch: number;
}

/**
 * Backlog per partition, for metrics and status (a scan of the pending index: fine for a scrape every few
 * seconds, not for every event).
 */
export async function readBacklog(pool: Pool, schema: string): Promise<PartitionBacklog[]> {
  const t = outboxTables(schema);
  const { rows } = await pool.query<{ partition: number; pending: string; oldest: number | null; holder: string | null; epoch: string }>(
    // Per partition (LATERAL): each count walks one partition's pending events along the index from its lease row,
    // with no join of the whole backlog to sort or hash by partition.
    `SELECT p.partition, b.pending, extract(epoch FROM now() - b.oldest)::float8 AS oldest,
            CASE WHEN p.expires_at > now() THEN p.holder END AS holder, p.epoch
     FROM ${t.partitions} p
     CROSS JOIN LATERAL (SELECT count(*) AS pending, min(o.created_at) AS oldest FROM ${t.pendingEvents} o WHERE o.partition = p.partition) b
     ORDER BY p.partition`,
  );
  return rows.map((r) => ({
    partition: r.partition,
    pending: Number(r.pending),
    oldestPendingAgeSeconds: Math.max(0, r.oldest ?? 0),
    holder: r.holder,
    epoch: Number(r.epoch),
  }));
}

/**
 * Age of the oldest open transaction in this database. Reading by state means an open transaction delays only
 * the events it wrote itself (they appear when it commits) and, through the per-aggregate lock, later writers of
 * the same aggregates; this is how long that delay is at most right now.
 */
export async function readOldestTransactionAgeSeconds(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ age: number | null }>(
    `SELECT extract(epoch FROM max(now() - xact_start))::float8 AS age FROM pg_stat_activity
     WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid() AND state <> 'idle'`,
  );
  return Math.max(0, rows[0]?.age ?? 0);
}
