import type { OutboxRelaySpec, OutboxRelayStatus, UnresponsivePod } from '../api/types';
import { podHealth, type UnhealthyReason } from './health';
import { leaderPods, partitionsOf, type LeaderView } from './leader';
import type { ObservedPod, ReconcileAction, ReconcileEvent } from './types';

/**
 * After a failover, wait at least this long before the next one, even with a failover delay of 0: the new leader
 * needs a moment to take the leases, and two failovers in a row would only bounce leadership around.
 */
export const MIN_FAILOVER_INTERVAL_MS = 5000;

export interface UnhealthyLeader {
  pod: string;
  reason: UnhealthyReason;
  since: string;
  /** When the failover delay runs out for this pod. */
  dueAt: string;
}

export interface FailoverDecision {
  actions: ReconcileAction[];
  events: ReconcileEvent[];
  unhealthyLeaders: UnhealthyLeader[];
  /** Set when actions were decided now. */
  failoverTime?: string;
  /** When the earliest pending failover is due, if one is pending. */
  requeueAfterMs?: number;
}

export interface FailoverInput {
  spec: OutboxRelaySpec;
  pods: readonly ObservedPod[];
  leaders: LeaderView;
  unresponsive: readonly UnresponsivePod[];
  previous: OutboxRelayStatus | undefined;
  now: Date;
}

/**
 * Decides whether a leader must go. A leader pod that has been not ready, or has not answered its `/status` probe,
 * for failoverDelaySeconds is asked to step down when it still answers (it releases its leases at once), and is
 * deleted when it does not, or when it already was asked during this unhealthy period and still leads.
 */
export function decideFailover(input: FailoverInput): FailoverDecision {
  const { spec, pods, leaders, unresponsive, previous, now } = input;
  const delayMs = spec.failoverDelaySeconds * 1000;
  const lastFailover = previous?.lastFailoverTime ? Date.parse(previous.lastFailoverTime) : undefined;
  const quietUntil = lastFailover === undefined ? 0 : lastFailover + Math.max(delayMs, MIN_FAILOVER_INTERVAL_MS);
  const decision: FailoverDecision = { actions: [], events: [], unhealthyLeaders: [] };
  const waitUntil = (at: number) => {
    const ms = Math.max(at - now.getTime(), 1);
    decision.requeueAfterMs = Math.min(decision.requeueAfterMs ?? ms, ms);
  };

  for (const name of leaderPods(leaders)) {
    const pod = pods.find((p) => p.name === name);
    // A pod already being deleted is on its way out; acting again would only add noise.
    if (!pod || pod.deleting) continue;
    const health = podHealth(pod, unresponsive, now);
    if (health.healthy || !health.reason || !health.since) continue;
    const since = Date.parse(health.since);
    const due = since + delayMs;
    decision.unhealthyLeaders.push({
      pod: name,
      reason: health.reason,
      since: health.since,
      dueAt: new Date(due).toISOString(),
    });
    if (now.getTime() < due) {
      waitUntil(due);
      continue;
    }
    if (now.getTime() < quietUntil) {
      waitUntil(quietUntil);
      continue;
    }
    const answers = pod.report !== null && pod.report !== undefined;
    const alreadyAsked = lastFailover !== undefined && lastFailover >= since;
    const kind = answers && !alreadyAsked ? 'StepDown' : 'DeletePod';
    const partitions = partitionsOf(leaders, name).join(',');
    const reason =
      `leader ${name} (partitions ${partitions}) ${health.reason === 'NotReady' ? 'not ready' : 'not answering /status'} ` +
      `for ${Math.round((now.getTime() - since) / 1000)}s, failover delay ${spec.failoverDelaySeconds}s` +
      (kind === 'DeletePod' ? (answers ? '; still leading after a step-down' : '; its endpoint does not answer') : '');
    decision.actions.push({ kind, pod: name, reason });
    decision.events.push({ type: 'Warning', reason: 'LeaderFailover', message: `${kind} ${name}: ${reason}` });
    decision.failoverTime = now.toISOString();
  }
  return decision;
}
