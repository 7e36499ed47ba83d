import type { Condition, ConditionStatus, ConditionType } from '../api/types';

export interface ConditionInput {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/** Order of conditions in status, so a re-applied status does not differ only by order. */
export const CONDITION_ORDER: readonly ConditionType[] = ['Ready', 'LeaderElected', 'Progressing', 'Degraded', 'Paused', 'PodsUnreachable', 'PartitionCountApplied'];

/**
 * Builds the new condition list. lastTransitionTime moves only when a condition's status changes (API conventions):
 * a reason or message change alone keeps it, so "for how long has this been False" stays answerable.
 */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  now: Date,
  observedGeneration: number,
): Condition[] {
  const conditions = next.map((c): Condition => {
    const before = previous?.find((p) => p.type === c.type);
    const unchanged = before !== undefined && before.status === c.status;
    return {
      ...c,
      lastTransitionTime: unchanged ? before.lastTransitionTime : now.toISOString(),
      observedGeneration,
    };
  });
  return conditions.sort((a, b) => CONDITION_ORDER.indexOf(a.type) - CONDITION_ORDER.indexOf(b.type));
}

export function findCondition(conditions: readonly Condition[] | undefined, type: ConditionType): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** True when the condition is new or its status, reason or message differs: the moments worth an Event. */
export function conditionChanged(previous: readonly Condition[] | undefined, next: ConditionInput): boolean {
  const before = findCondition(previous, next.type);
  return !before || before.status !== next.status || before.reason !== next.reason || before.message !== next.message;
}
