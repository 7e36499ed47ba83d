import { STEP_DOWN_ANNOTATION, SWITCHOVER_TO_ANNOTATION } from '../api/group';
import type { OutboxRelayResource } from '../api/types';
import { leaderPods, type LeaderView } from './leader';
import type { ObservedPod, ReconcileAction, ReconcileEvent } from './types';

/**
 * A new leader gets this long before a switchover asks again: a step-down frees the leases, and any standby may
 * win them, so reaching the requested pod can take a few rounds; each round must see the previous one finish.
 */
export const SWITCHOVER_SETTLE_MS = 5000;

export interface SwitchoverDecision {
  actions: ReconcileAction[];
  events: ReconcileEvent[];
  /** Why a requested switchover is waiting or refused, for the LeaderElected condition's message. */
  note?: string;
  requeueAfterMs?: number;
}

/**
 * Planned leader changes requested by annotation. `switchover-to: <pod>` asks every other leader to step down until
 * that pod leads every partition. `step-down: "<epoch>"` asks the current leader to step down if it still holds
 * that epoch: once leadership moves the epoch changes, so a forgotten annotation never fires again.
 */
export function decideSwitchover(
  relay: OutboxRelayResource,
  pods: readonly ObservedPod[],
  leaders: LeaderView,
  now: Date,
): SwitchoverDecision {
  const annotations = relay.metadata?.annotations ?? {};
  const current = leaders.current;
  const decision: SwitchoverDecision = { actions: [], events: [] };
  if (!current || !current.fresh) return decision;
  const answers = (name: string) => !!pods.find((p) => p.name === name && p.report && !p.deleting);

  const target = annotations[SWITCHOVER_TO_ANNOTATION];
  if (target) {
    const others = leaderPods(leaders).filter((p) => p !== target);
    if (others.length === 0) return decision;
    const targetPod = pods.find((p) => p.name === target);
    if (!targetPod || !targetPod.ready || targetPod.deleting) {
      decision.note = `switchover to ${target} waits: that pod is ${targetPod ? 'not ready' : 'not found'}`;
      return decision;
    }
    const settledAt = Date.parse(current.since) + SWITCHOVER_SETTLE_MS;
    if (now.getTime() < settledAt) {
      decision.note = `switchover to ${target} in progress`;
      decision.requeueAfterMs = settledAt - now.getTime();
      return decision;
    }
    for (const pod of others.filter(answers)) {
      const reason = `switchover to ${target} requested by annotation ${SWITCHOVER_TO_ANNOTATION}`;
      decision.actions.push({ kind: 'StepDown', pod, reason });
      decision.events.push({ type: 'Normal', reason: 'Switchover', message: `StepDown ${pod}: ${reason}` });
    }
    decision.note = `switchover to ${target} in progress`;
    return decision;
  }

  const epoch = annotations[STEP_DOWN_ANNOTATION];
  if (epoch !== undefined && epoch.trim() === String(current.epoch) && answers(current.pod)) {
    const reason = `step-down of epoch ${current.epoch} requested by annotation ${STEP_DOWN_ANNOTATION}`;
    decision.actions.push({ kind: 'StepDown', pod: current.pod, reason });
    decision.events.push({ type: 'Normal', reason: 'StepDown', message: `StepDown ${current.pod}: ${reason}` });
  }
  return decision;
}
