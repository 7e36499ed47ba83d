import type { Condition, OutboxRelayStatus } from '../api/types';
import { findCondition } from './conditions';
import type { LeaderView } from './leader';
import type { ReconcileEvent } from './types';

/**
 * Events for changes only: reconcile runs on every resync, and an Event per run would bury the ones that matter.
 * (Failover and switchover events come from their own decisions, which fire once per action.)
 */
export function transitionEvents(
  previous: OutboxRelayStatus | undefined,
  conditions: readonly Condition[],
  leaders: LeaderView,
): ReconcileEvent[] {
  const events: ReconcileEvent[] = [];
  const before = (type: Condition['type']) => findCondition(previous?.conditions, type);
  const after = (type: Condition['type']) => findCondition(conditions, type);

  const degraded = after('Degraded');
  const wasDegraded = before('Degraded');
  for (const reason of ['InvalidSpec', 'SecretMissing']) {
    if (degraded?.reason === reason && (wasDegraded?.reason !== reason || wasDegraded.message !== degraded.message)) {
      events.push({ type: 'Warning', reason, message: degraded.message });
    }
  }

  const paused = after('Paused');
  const wasPaused = before('Paused');
  if (paused?.status === 'True' && wasPaused?.status !== 'True') {
    events.push({ type: 'Normal', reason: 'Paused', message: 'reconciliation paused: objects are left as they are' });
  } else if (paused?.status === 'False' && wasPaused?.status === 'True') {
    events.push({ type: 'Normal', reason: 'Resumed', message: 'reconciliation resumed' });
  }

  const unreachable = after('PodsUnreachable');
  const wasUnreachable = before('PodsUnreachable');
  if (unreachable?.status === 'True' && (wasUnreachable?.status !== 'True' || wasUnreachable.reason !== unreachable.reason)) {
    events.push({ type: 'Warning', reason: 'PodsUnreachable', message: unreachable.message });
  }

  const current = leaders.current;
  if (current?.fresh && (current.pod !== previous?.currentLeader || current.epoch !== previous?.leaderEpoch)) {
    events.push({
      type: 'Normal',
      reason: 'LeaderElected',
      message: `${current.pod} leads partition ${current.partition} at epoch ${current.epoch}`,
    });
  }
  return events;
}
