import type { KubernetesObject, V1NetworkPolicyPeer, V1NetworkPolicySpec } from '../api/k8s-types';
import type { OutboxRelayResource, OutboxRelaySpec } from '../api/types';
import { RELAY_HTTP_PORT } from './env';
import { childMetadata, selectorLabels } from './metadata';
import type { OperatorPods } from './types';

/** A NetworkPolicy as JSON (client-node's model names the ingress rule's `from` `_from`). */
export interface NetworkPolicyManifest extends KubernetesObject {
  spec: Omit<V1NetworkPolicySpec, 'ingress'> & { ingress: Array<{ from: V1NetworkPolicyPeer[]; ports: Array<{ protocol: string; port: number }> }> };
}

/**
 * Ingress to the relay pods' HTTP port only from the operator's pods (probes, step-downs) and the listed peers
 * (Prometheus); every other ingress to the pods is refused. Egress is not selected, so it stays open.
 */
export function desiredNetworkPolicy(relay: OutboxRelayResource, spec: OutboxRelaySpec, operator: OperatorPods): NetworkPolicyManifest {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: childMetadata(relay),
    spec: {
      podSelector: { matchLabels: selectorLabels(relay) },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': operator.namespace } }, podSelector: { matchLabels: operator.labels } },
            ...(spec.networkPolicy?.metricsFrom ?? []),
          ],
          ports: [{ protocol: 'TCP', port: RELAY_HTTP_PORT }],
        },
      ],
    },
  };
}
