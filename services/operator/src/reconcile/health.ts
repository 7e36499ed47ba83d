import type { OutboxRelayStatus, UnresponsivePod } from '../api/types';
import type { ObservedPod } from './types';

export type UnhealthyReason = 'NotReady' | 'Unresponsive';

export interface PodHealth {
  healthy: boolean;
  reason?: UnhealthyReason;
  /** Start of the current unhealthy period (ISO time). */
  since?: string;
}

/**
 * Carries forward when each pod's `/status` probe began failing. A pod that answers (or was not probed) drops out;
 * a pod that fails keeps its first failure time, so the failover clock is not reset by every reconcile.
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

/** Not ready wins over unresponsive: the kubelet's record of when readiness was lost is the more exact clock. */
export function podHealth(pod: ObservedPod, unresponsive: readonly UnresponsivePod[], now: Date): PodHealth {
  const failingSince = unresponsive.find((u) => u.pod === pod.name)?.since;
  if (!pod.ready) return { healthy: false, reason: 'NotReady', since: pod.notReadySince ?? failingSince ?? now.toISOString() };
  if (pod.report === null) return { healthy: false, reason: 'Unresponsive', since: failingSince ?? now.toISOString() };
  return { healthy: true };
}
