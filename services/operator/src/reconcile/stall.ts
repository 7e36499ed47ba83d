import type { OutboxRelaySpec } from '../api/types';
import type { RelayPartitionReport, RelayPodReport } from './types';

/**
 * The shortest stretch without progress taken as evidence of a stall, whatever failoverDelaySeconds says: a leader
 * just elected has published nothing yet, a slow publish takes seconds, and a 0 s window would call every leader
 * with a single waiting event stalled.
 */
export const MIN_STALL_MS = 5000;

/** A partition its leader holds (and renews) while publishing nothing, as the leader itself reports it. */
export interface StalledPartition {
  partition: number;
  /** Why, in words, with the figures (for conditions, events and logs). */
  detail: string;
  /** The publishing stopped (events wait) rather than the renewals. */
  publishing: boolean;
}

export function stallWindowMs(spec: OutboxRelaySpec): number {
  return Math.max(spec.failoverDelaySeconds * 1000, MIN_STALL_MS);
}

/**
 * The partitions of `report` whose leader makes no progress. Only what the relay reports counts, and only as
 * evidence that holds whoever looks: events have been waiting for the whole window (the oldest pending event is
 * that old, per a recent backlog reading), the leader has led for that long, and nothing was acknowledged in that
 * time; or the lease renewals stopped while the relay still calls itself leader. A leader that is merely slow,
 * busy draining a backlog, idle, or not reachable shows none of this. Fields an older relay leaves out are no
 * evidence at all.
 */
export function stalledPartitions(report: RelayPodReport, spec: OutboxRelaySpec): StalledPartition[] {
  const windowMs = stallWindowMs(spec);
  const backlogFresh = typeof report.backlogReadAgoMs === 'number' && report.backlogReadAgoMs <= windowMs;
  const stalled: StalledPartition[] = [];
  for (const p of report.partitions) {
    if (!p.leading) continue;
    const renewal = renewalStall(p, spec.leaseDurationMs);
    if (renewal) {
      stalled.push({ partition: p.partition, detail: renewal, publishing: false });
      continue;
    }
    const publishing = backlogFresh ? publishingStall(p, windowMs) : undefined;
    if (publishing) stalled.push({ partition: p.partition, detail: publishing, publishing: true });
  }
  return stalled;
}

function renewalStall(p: RelayPartitionReport, leaseMs: number): string | undefined {
  if (typeof p.renewedAgoMs !== 'number' || p.renewedAgoMs <= leaseMs) return undefined;
  return `partition ${p.partition}: lease last renewed ${seconds(p.renewedAgoMs)} ago, lease ${seconds(leaseMs)}`;
}

function publishingStall(p: RelayPartitionReport, windowMs: number): string | undefined {
  const { pending, oldestPendingAgeMs, leadingForMs, publishedAgoMs } = p;
  if (typeof pending !== 'number' || pending <= 0) return undefined;
  if (typeof oldestPendingAgeMs !== 'number' || oldestPendingAgeMs < windowMs) return undefined;
  if (typeof leadingForMs !== 'number' || leadingForMs < windowMs) return undefined;
  // null: nothing acknowledged in this term, which has lasted leadingForMs.
  const quietMs = publishedAgoMs === undefined ? undefined : publishedAgoMs ?? leadingForMs;
  if (quietMs === undefined || quietMs < windowMs) return undefined;
  const last = publishedAgoMs === null ? `nothing published in its ${seconds(leadingForMs)} term` : `last publish ${seconds(quietMs)} ago`;
  return `partition ${p.partition}: ${pending} events pending, the oldest for ${seconds(oldestPendingAgeMs)}; ${last}`;
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10}s`;
