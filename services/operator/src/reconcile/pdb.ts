import type { V1PodDisruptionBudget } from '../api/k8s-types';
import type { OutboxRelayResource } from '../api/types';
import { childMetadata, selectorLabels } from './metadata';

/**
 * At most one relay pod evicted at a time. maxUnavailable rather than minAvailable: with a single replica a node
 * drain can still proceed (the lease moves to the rescheduled pod), where minAvailable: 1 would block it forever.
 */
export function desiredPodDisruptionBudget(relay: OutboxRelayResource): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: childMetadata(relay),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(relay) } },
  };
}
