import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1';
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';

interface Validatable {
  validate(): void;
}
// kubernetes-models classes take their own input types; the manifests here are plain JSON, so `any` at this edge.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ModelClass = new (data: any) => Validatable;

const MODELS: Record<string, ModelClass> = {
  'v1/ServiceAccount': ServiceAccount,
  'v1/Service': Service,
  'v1/Secret': Secret,
  'v1/Namespace': Namespace,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

/**
 * Validates a manifest against the Kubernetes schema of its kind (kubernetes-models 4.5.1), after a JSON round
 * trip so it is checked as the API server would receive it. Throws naming the object and the bad path.
 */
export function validateManifest(object: { apiVersion?: string; kind?: string; metadata?: { name?: string } }): void {
  const key = `${object.apiVersion}/${object.kind}`;
  const Model = MODELS[key];
  if (!Model) throw new Error(`no kubernetes-models class registered for ${key}`);
  try {
    new Model(JSON.parse(JSON.stringify(object))).validate();
  } catch (error) {
    throw new Error(`${key} ${object.metadata?.name ?? '(unnamed)'} is invalid: ${(error as Error).message}`);
  }
}
