import type { OutboxRelayStatus, UnresponsivePod } from '../api/types';
import type { ObservedPod } from './types';

/**
 * Carries forward when each pod's `/status` probe began failing. A pod that answers (or was not probed) drops out;
 * a pod that fails keeps its first failure time, so "unreachable since" survives reconciles.
 */
export function trackUnresponsive(
  pods: readonly ObservedPod[],
  previous: OutboxRelayStatus | undefined,
  now: Date,
): UnresponsivePod[] {
  return pods
    .filter((pod) => pod.report === null)
    .map((pod) => ({
      pod: pod.name,
      since: previous?.unresponsivePods?.find((u) => u.pod === pod.name)?.since ?? now.toISOString(),
    }));
}

/**
 * Pods the kubelet reports Ready (it reaches them) that the operator cannot reach: the signature of a fault
 * between the operator and the pods (a NetworkPolicy, a CNI problem), which must never be taken for pods that
 * failed. Like CloudNativePG, report it and do nothing disruptive on their account.
 */
export function unreachablePods(pods: readonly ObservedPod[], unresponsive: readonly UnresponsivePod[]): UnresponsivePod[] {
  return unresponsive.filter((u) => pods.some((p) => p.name === u.pod && p.ready && !p.deleting));
}
