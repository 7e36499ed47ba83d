import type { LeaderView } from './leader';
import type { ObservedPod, PodAnnotations } from './types';

/** Read by the ReplicaSet controller: on scale-down it deletes the pods with the lowest cost first. */
export const POD_DELETION_COST_ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';

/**
 * Keeps each relay pod's pod-deletion-cost at the number of partitions it leads (none on a follower), so that a
 * scale-down, and the old ReplicaSet's scale-down in every step of a rollout, removes followers before leaders:
 * the leader goes last, once, and hands over to an up-to-date pod instead of to an old one about to go too. Only
 * pods that answered this time are judged; a pod that did not keep what it had.
 */
export function podDeletionCosts(pods: readonly ObservedPod[], leaders: LeaderView): PodAnnotations[] {
  const changes: PodAnnotations[] = [];
  for (const pod of pods) {
    if (!pod.report || pod.deleting) continue;
    const led = leaders.partitionLeaders.filter((l) => l.pod === pod.name).length;
    const wanted = led > 0 ? String(led) : null;
    if ((pod.annotations?.[POD_DELETION_COST_ANNOTATION] ?? null) === wanted) continue;
    changes.push({ pod: pod.name, annotations: { [POD_DELETION_COST_ANNOTATION]: wanted } });
  }
  return changes;
}
