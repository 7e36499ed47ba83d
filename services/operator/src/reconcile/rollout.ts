import type { V1Deployment } from '../api/k8s-types';
import type { ObservedPod } from './types';

export interface PodCounts {
  /** Pods not being deleted. */
  replicas: number;
  readyReplicas: number;
}

/** Counted from the pods themselves, which is what the leader discovery sees too (and works without a Deployment controller). */
export function countPods(pods: readonly ObservedPod[]): PodCounts {
  const live = pods.filter((p) => !p.deleting);
  return { replicas: live.length, readyReplicas: live.filter((p) => p.ready).length };
}

export interface RolloutState {
  done: boolean;
  reason: string;
  message: string;
  /** The Deployment controller gave up (progress deadline) or cannot create pods (quota, admission). */
  stuck?: { reason: string; message: string };
}

export function rolloutState(desired: number, deployment: V1Deployment | undefined, counts: PodCounts): RolloutState {
  if (!deployment) return { done: false, reason: 'Creating', message: 'the relay Deployment does not exist yet' };
  const conditions = deployment.status?.conditions ?? [];
  const deadline = conditions.find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
  const failure = conditions.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  const stuck = failure ?? deadline;
  const base = stuck ? { stuck: { reason: stuck.reason ?? stuck.type, message: stuck.message ?? '' } } : {};
  if ((deployment.spec?.replicas ?? 1) !== desired || counts.replicas !== desired) {
    return { ...base, done: false, reason: 'Scaling', message: `${counts.replicas} of ${desired} pods exist` };
  }
  const generation = deployment.metadata?.generation;
  const observed = deployment.status?.observedGeneration;
  const updated = deployment.status?.updatedReplicas;
  if ((generation !== undefined && observed !== undefined && observed < generation) || (updated !== undefined && updated < desired)) {
    return { ...base, done: false, reason: 'RollingOut', message: `${updated ?? 0} of ${desired} pods updated` };
  }
  if (counts.readyReplicas < desired) {
    return { ...base, done: false, reason: 'WaitingForPods', message: `${counts.readyReplicas} of ${desired} pods ready` };
  }
  return { ...base, done: true, reason: 'Complete', message: `${desired} of ${desired} pods ready` };
}
