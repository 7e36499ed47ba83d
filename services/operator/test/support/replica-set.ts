import type { JsonObject } from './fake-kube-api';

export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

/**
 * The pods a ReplicaSet deletes first when it scales down (on `kubectl scale` and for the old ReplicaSet in every
 * step of a rolling update), ranked as the ReplicaSet controller ranks them (controller.ActivePodsWithRanks),
 * reduced to what tells the relay pods here apart: not ready before ready, a lower pod-deletion-cost before a higher
 * one, ready for less time before longer, newer before older. The fake API has no controllers: tests play it.
 */
export function scaleDownVictims(pods: readonly JsonObject[], count: number): string[] {
  const ranked = [...pods].sort((a, b) => {
    const ready = Number(isReady(a)) - Number(isReady(b));
    if (ready !== 0) return ready;
    const cost = deletionCost(a) - deletionCost(b);
    if (cost !== 0) return cost;
    const readyFor = readySince(b) - readySince(a);
    if (readyFor !== 0) return readyFor;
    return created(b) - created(a);
  });
  return ranked.slice(0, count).map((p) => String((p.metadata as JsonObject).name));
}

const meta = (p: JsonObject) => p.metadata as { annotations?: Record<string, string>; creationTimestamp?: string };
const readyCondition = (p: JsonObject) =>
  ((p.status as { conditions?: Array<{ type: string; status: string; lastTransitionTime?: string }> } | undefined)?.conditions ?? []).find(
    (c) => c.type === 'Ready',
  );
const isReady = (p: JsonObject) => readyCondition(p)?.status === 'True';
const readySince = (p: JsonObject) => Date.parse(readyCondition(p)?.lastTransitionTime ?? '') || 0;
const created = (p: JsonObject) => Date.parse(meta(p).creationTimestamp ?? '') || 0;
const deletionCost = (p: JsonObject) => Number(meta(p).annotations?.[POD_DELETION_COST] ?? 0) || 0;
