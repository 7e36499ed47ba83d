import type { OutboxRelaySpec, OutboxRelayStatus } from '../api/types';
import { leaderPods, type LeaderView } from './leader';
import { stalledPartitions, stallWindowMs } from './stall';
import type { ObservedPod, ReconcileAction, ReconcileEvent } from './types';

/**
 * After a failover, wait at least this long before the next one, even with a failover delay of 0: the new leader
 * needs a moment to take the leases, and two failovers in a row would only bounce leadership around.
 */
export const MIN_FAILOVER_INTERVAL_MS = 5000;

/**
 * Why a leader is in the conditions. Only 'Stalled' is acted on; the others are what the operator sees and cannot
 * judge: a leader it cannot reach may be fine (the operator may be the one cut off), an unready one may still
 * publish, and one cut off from NATS along with everybody else would fare no better anywhere else.
 */
export type LeaderConcernKind = 'Stalled' | 'NatsUnreachable' | 'Unreachable' | 'NotReady';

export interface LeaderConcern {
  pod: string;
  kind: LeaderConcernKind;
  detail: string;
}

export interface FailoverDecision {
  /** At most one: one disruptive action per reconcile. */
  actions: Array<Extract<ReconcileAction, { kind: 'EvictPod' }>>;
  events: ReconcileEvent[];
  /** Leaders the conditions report on, worst first. */
  concerns: LeaderConcern[];
  /** Set when an action was decided now (it becomes status.lastFailoverTime, written before the action). */
  failoverTime?: string;
  /** A stalled leader waits for the quiet period after the last failover, until this time. */
  quietUntil?: string;
  requeueAfterMs?: number;
}

export interface FailoverInput {
  spec: OutboxRelaySpec;
  pods: readonly ObservedPod[];
  leaders: LeaderView;
  previous: OutboxRelayStatus | undefined;
  now: Date;
}

/**
 * Decides whether a leader's pod must go. The Postgres lease decides who publishes, and a leader that dies, freezes
 * or loses the database loses its lease to a standby without the operator. What the lease cannot see is a leader
 * that keeps renewing while publishing nothing: that is the one case acted on, on the leader's own report of it
 * (stall.ts), by evicting its pod (the PodDisruptionBudget decides whether now is a good time; the Deployment
 * replaces it). Never on a probe that fails: a NetworkPolicy or a CNI fault between the operator and the pods
 * would otherwise have it kill every healthy leader. At most one eviction per reconcile and per quiet period
 * (failoverDelaySeconds, at least MIN_FAILOVER_INTERVAL_MS, after the last).
 */
export function decideFailover(input: FailoverInput): FailoverDecision {
  const { spec, pods, leaders, previous, now } = input;
  const decision: FailoverDecision = { actions: [], events: [], concerns: [] };
  const someoneOnNats = pods.some((p) => p.report?.natsConnected === true);
  const candidates: Array<{ pod: ObservedPod; reason: string }> = [];

  for (const name of leaderPods(leaders)) {
    const pod = pods.find((p) => p.name === name);
    // A pod already being deleted is on its way out; acting again would only add noise.
    if (!pod || pod.deleting) continue;
    if (pod.report === null) {
      const kind = pod.ready ? 'Unreachable' : 'NotReady';
      const detail = pod.ready
        ? `leader ${name} does not answer /status although the kubelet reports it Ready; not acted on`
        : `leader ${name} is not ready and does not answer /status; its lease passes to a standby if it stops renewing`;
      decision.concerns.push({ pod: name, kind, detail });
      continue;
    }
    if (!pod.report) continue;
    const stalled = stalledPartitions(pod.report, spec);
    if (stalled.length === 0) {
      if (!pod.ready) decision.concerns.push({ pod: name, kind: 'NotReady', detail: `leader ${name} is not ready but still reports progress` });
      continue;
    }
    const detail = stalled.map((s) => s.detail).join('; ');
    if (stalled.every((s) => s.publishing) && pod.report.natsConnected === false && !someoneOnNats) {
      decision.concerns.push({ pod: name, kind: 'NatsUnreachable', detail: `leader ${name} publishes nothing (${detail}), but no relay pod is connected to NATS: not acted on` });
      continue;
    }
    decision.concerns.push({ pod: name, kind: 'Stalled', detail: `leader ${name} makes no progress: ${detail}` });
    candidates.push({ pod, reason: `leader ${name} makes no progress for ${Math.round(stallWindowMs(spec) / 1000)}s or more: ${detail}` });
  }
  decision.concerns.sort((a, b) => rank(a.kind) - rank(b.kind));

  const first = candidates[0];
  if (!first) return decision;
  const lastFailover = previous?.lastFailoverTime ? Date.parse(previous.lastFailoverTime) : undefined;
  const quietUntil = lastFailover === undefined ? 0 : lastFailover + Math.max(spec.failoverDelaySeconds * 1000, MIN_FAILOVER_INTERVAL_MS);
  if (now.getTime() < quietUntil) {
    decision.quietUntil = new Date(quietUntil).toISOString();
    decision.requeueAfterMs = Math.max(quietUntil - now.getTime(), 1);
    return decision;
  }
  decision.actions.push({ kind: 'EvictPod', pod: first.pod.name, uid: first.pod.uid, reason: first.reason });
  decision.events.push({ type: 'Warning', reason: 'LeaderFailover', message: `EvictPod ${first.pod.name}: ${first.reason}` });
  decision.failoverTime = now.toISOString();
  return decision;
}

const rank = (kind: LeaderConcernKind) => ['Stalled', 'NatsUnreachable', 'Unreachable', 'NotReady'].indexOf(kind);
