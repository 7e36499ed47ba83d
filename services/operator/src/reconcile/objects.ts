import type { KubernetesObject } from '../api/k8s-types';
import type { OutboxRelayResource, OutboxRelaySpec } from '../api/types';
import { desiredDeployment } from './deployment';
import type { PodTemplateInputs } from './pod-template';
import { desiredPodDisruptionBudget } from './pdb';
import { desiredService } from './service';
import { desiredServiceAccount } from './service-account';

/** Every child object, in apply order: the ServiceAccount exists before pods that run as it are created. */
export function desiredObjects(relay: OutboxRelayResource, spec: OutboxRelaySpec, inputs: PodTemplateInputs): KubernetesObject[] {
  return [
    desiredServiceAccount(relay),
    desiredService(relay),
    desiredPodDisruptionBudget(relay),
    desiredDeployment(relay, spec, inputs),
  ];
}
