import type { Pool } from 'pg';
import { type OutboxTables } from '@outbox-relay/outbox';
import { RELAY_SIGNAL_PREFIX } from '@outbox-relay/outbox/internal';
import { performance } from 'node:perf_hooks';

/** A partition's lease as the database sees it right now. */
export interface LeaseState {
  partition: number;
  holder: string | null;
  epoch: number;
  /** Held and not expired by the database clock. */
  live: boolean;
  expiresAt: Date | null;
}

export interface StepDownRequest {
  partition: number;
  holder: string;
  epoch: number;
}

export async function readLeases(pool: Pool, t: OutboxTables, partitions?: readonly number[]): Promise<LeaseState[]> {
  const { rows } = await pool.query<{ partition: number; holder: string | null; epoch: string; live: boolean; expires_at: Date | null }>(
    `SELECT partition, holder, epoch::text AS epoch, (holder IS NOT NULL AND expires_at > now()) AS live,
            CASE WHEN expires_at = '-infinity' THEN NULL ELSE expires_at END AS expires_at
     FROM ${t.partitions} WHERE $1::int[] IS NULL OR partition = ANY($1::int[]) ORDER BY partition`,
    [partitions ?? null],
  );
  return rows.map((r) => ({ partition: r.partition, holder: r.holder, epoch: Number(r.epoch), live: r.live, expiresAt: r.expires_at }));
}

/**
 * Asks the holders of the given partitions to release their leases: records the epoch to end (so the request can
 * never end a later term) and NOTIFYs the relays, in one statement (the NOTIFY goes out when it commits).
 * Partitions without a live lease are left alone and not returned.
 */
export async function requestStepDown(pool: Pool, t: OutboxTables, partitions: readonly number[]): Promise<StepDownRequest[]> {
  const { rows } = await pool.query<{ partition: number; holder: string; epoch: string }>(
    `WITH requested AS (
       UPDATE ${t.partitions} SET step_down_epoch = epoch
       WHERE partition = ANY($1::int[]) AND holder IS NOT NULL AND expires_at > now()
       RETURNING partition, holder, epoch)
     SELECT partition, holder, epoch::text AS epoch, pg_notify($2, $3::text || partition) AS notified
     FROM requested ORDER BY partition`,
    [partitions, t.channel, RELAY_SIGNAL_PREFIX.stepDown],
  );
  return rows.map((r) => ({ partition: r.partition, holder: r.holder, epoch: Number(r.epoch) }));
}

export interface StepDownOutcome {
  request: StepDownRequest;
  /** The lease when the successor took over, or at the deadline. */
  after: LeaseState;
  /** The holder let go of the requested epoch (epoch moved on, holder cleared, or its lease expired). */
  released: boolean;
  /** Someone holds a live lease at a newer epoch. */
  succeeded: boolean;
}

/**
 * Polls (every `pollMs`) until each requested holder has let go AND a successor holds the lease at a newer epoch,
 * or `timeoutMs` passed. Only a holder that never let go counts as timed out: a released lease nobody took yet
 * is reported as such. Judged by the lease row alone, so it works whichever process held the lease.
 */
export async function awaitRelease(
  pool: Pool,
  t: OutboxTables,
  requests: readonly StepDownRequest[],
  timeoutMs: number,
  pollMs = 50,
): Promise<StepDownOutcome[]> {
  const deadline = performance.now() + timeoutMs;
  const outcomes = new Map<number, StepDownOutcome>();
  for (;;) {
    const waiting = requests.filter((r) => !outcomes.get(r.partition)?.succeeded);
    const leases = await readLeases(pool, t, waiting.map((r) => r.partition));
    for (const request of waiting) {
      const after = leases.find((l) => l.partition === request.partition);
      if (!after) continue;
      const moved = after.epoch !== request.epoch;
      outcomes.set(request.partition, {
        request,
        after,
        // An expired lease counts: that holder can no longer publish, whoever campaigns next.
        released: moved || after.holder === null || !after.live,
        succeeded: moved && after.live,
      });
    }
    if (requests.every((r) => outcomes.get(r.partition)?.succeeded) || performance.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(1, deadline - performance.now()))));
  }
  return requests.map(
    (request) =>
      outcomes.get(request.partition) ?? {
        request,
        after: { partition: request.partition, holder: null, epoch: request.epoch, live: false, expiresAt: null },
        released: true,
        succeeded: false,
      },
  );
}
