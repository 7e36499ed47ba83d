import type { KubernetesObject } from '../api/k8s-types';
import type { OutboxRelayResource, OutboxRelaySpec } from '../api/types';
import { desiredDeployment } from './deployment';
import { childMetadata } from './metadata';
import { desiredNetworkPolicy } from './network-policy';
import type { PodTemplateInputs } from './pod-template';
import { desiredPodDisruptionBudget } from './pdb';
import { desiredService } from './service';
import { desiredServiceAccount } from './service-account';
import type { ObjectRef, ObservedState } from './types';

export interface DesiredChildren {
  /** In apply order: the ServiceAccount exists before pods that run as it are created. */
  objects: KubernetesObject[];
  deletions: ObjectRef[];
  /** spec.networkPolicy.enabled, but the operator does not know its own pods: no policy, or it would shut them out. */
  networkPolicyWithoutOperator: boolean;
}

/** Every child object (the admin Secret aside: the controller creates it once), and the children to delete. */
export function desiredObjects(
  relay: OutboxRelayResource,
  spec: OutboxRelaySpec,
  inputs: PodTemplateInputs,
  observed: Pick<ObservedState, 'adminTokenDigest' | 'operatorPods' | 'networkPolicyExists'> = {},
): DesiredChildren {
  const objects: KubernetesObject[] = [
    desiredServiceAccount(relay),
    desiredService(relay),
    desiredPodDisruptionBudget(relay),
  ];
  const deletions: ObjectRef[] = [];
  const enabled = spec.networkPolicy?.enabled === true;
  // Before the pods: a policy applied after them would leave them open for a moment.
  if (enabled && observed.operatorPods) objects.push(desiredNetworkPolicy(relay, spec, observed.operatorPods));
  if (!enabled && observed.networkPolicyExists) {
    const { name = '', namespace = 'default' } = childMetadata(relay);
    deletions.push({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace, name });
  }
  objects.push(desiredDeployment(relay, spec, inputs, observed.adminTokenDigest));
  return { objects, deletions, networkPolicyWithoutOperator: enabled && !observed.operatorPods };
}
