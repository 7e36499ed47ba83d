import type { V1Deployment } from '../api/k8s-types';
import type { OutboxRelayResource, OutboxRelaySpec } from '../api/types';
import { withAdminToken } from './admin-token';
import { childMetadata, selectorLabels } from './metadata';
import { podTemplate, type PodTemplateInputs } from './pod-template';

/**
 * The relay Deployment. Replicas come from the OutboxRelay, so `kubectl scale obr` and HPAs drive it. The pods
 * mount the relay's admin Secret; `adminTokenDigest` is the token's digest (undefined while the Secret is unknown).
 */
export function desiredDeployment(relay: OutboxRelayResource, spec: OutboxRelaySpec, inputs: PodTemplateInputs, adminTokenDigest?: string): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMetadata(relay),
    spec: {
      replicas: spec.replicas,
      selector: { matchLabels: selectorLabels(relay) },
      // Surge before removing an old pod, so a standby exists throughout a rollout.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      revisionHistoryLimit: 5,
      template: withAdminToken(podTemplate(relay, spec, inputs), relay, adminTokenDigest),
    },
  };
}
