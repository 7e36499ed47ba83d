import type { Pool } from 'pg';
import { inboxMigrated, type Tables } from './tables';

/** One partition's lease and publishing progress, judged by the database clock. */
export interface PartitionState {
  partition: number;
  /** Instance holding the lease row (may be an expired holder). */
  holder: string | null;
  epoch: number;
  /** Null when the lease was never taken. */
  leaseExpiresAt: Date | null;
  leaseExpired: boolean;
  /** A step-down was requested for the current epoch and not yet carried out. */
  stepDownPending: boolean;
  pending: number;
  oldestPendingAgeMs: number | null;
  lastPublished: { id: string; seq: string; at: Date } | null;
  publishedTotal: number;
}

export interface OpenDeadLetters {
  relay: number;
  /** Null when the inbox tables do not exist in the inbox schema. */
  consumer: { total: number; byConsumer: Record<string, number> } | null;
}

export interface OutboxStatus {
  schema: string;
  inboxSchema: string;
  /** The database's now(), which every age and expiry here is measured against. */
  at: Date;
  partitions: PartitionState[];
  openDeadLetters: OpenDeadLetters;
}

export async function readStatus(pool: Pool, t: Tables): Promise<OutboxStatus> {
  const { rows } = await pool.query<{
    at: Date;
    partition: number;
    holder: string | null;
    epoch: string;
    expires_at: Date | null;
    expired: boolean;
    step_down_pending: boolean;
    pending: number;
    oldest_ms: number | null;
    last_published_id: string | null;
    last_published_seq: string | null;
    last_published_at: Date | null;
    published_total: string;
  }>(
    // Pending rows are counted through the pending view (the partial index on unpublished rows); one pass for all
    // partitions.
    `WITH pending AS (
       SELECT partition, count(*)::int AS pending, min(created_at) AS oldest
       FROM ${t.outbox.pendingEvents} GROUP BY partition)
     SELECT now() AS at, p.partition, p.holder, p.epoch::text AS epoch,
            CASE WHEN p.expires_at = '-infinity' THEN NULL ELSE p.expires_at END AS expires_at,
            p.expires_at <= now() AS expired,
            (p.step_down_epoch IS NOT DISTINCT FROM p.epoch AND p.holder IS NOT NULL AND p.expires_at > now()) AS step_down_pending,
            coalesce(q.pending, 0) AS pending,
            (extract(epoch FROM now() - q.oldest) * 1000)::float8 AS oldest_ms,
            p.last_published_id::text AS last_published_id, p.last_published_seq::text AS last_published_seq,
            p.last_published_at, p.published_total::text AS published_total
     FROM ${t.outbox.partitions} p LEFT JOIN pending q USING (partition)
     ORDER BY p.partition`,
  );
  const relay = await pool.query<{ open: number }>(
    `SELECT count(*)::int AS open FROM ${t.outbox.deadLetters} WHERE resolved_at IS NULL`,
  );
  let consumer: OpenDeadLetters['consumer'] = null;
  if (await inboxMigrated(pool, t.inbox)) {
    const byConsumer = await pool.query<{ consumer: string; open: number }>(
      `SELECT consumer, count(*)::int AS open FROM ${t.inbox.deadLetters} WHERE resolved_at IS NULL
       GROUP BY consumer ORDER BY consumer`,
    );
    consumer = {
      total: byConsumer.rows.reduce((sum, r) => sum + r.open, 0),
      byConsumer: Object.fromEntries(byConsumer.rows.map((r) => [r.consumer, r.open])),
    };
  }
  return {
    schema: t.outbox.schema,
    inboxSchema: t.inbox.schema,
    at: rows[0]?.at ?? new Date(),
    partitions: rows.map((r) => ({
      partition: r.partition,
      holder: r.holder,
      epoch: Number(r.epoch),
      leaseExpiresAt: r.expires_at,
      leaseExpired: r.expired,
      stepDownPending: r.step_down_pending,
      pending: r.pending,
      oldestPendingAgeMs: r.oldest_ms === null ? null : Math.max(0, Math.round(r.oldest_ms)),
      lastPublished:
        r.last_published_id && r.last_published_seq && r.last_published_at
          ? { id: r.last_published_id, seq: r.last_published_seq, at: r.last_published_at }
          : null,
      publishedTotal: Number(r.published_total),
    })),
    openDeadLetters: { relay: relay.rows[0]?.open ?? 0, consumer },
  };
}
