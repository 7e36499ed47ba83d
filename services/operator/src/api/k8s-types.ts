/**
 * Kubernetes object types from @kubernetes/client-node, re-exported in one place. That package is an ES module
 * and this one compiles to CommonJS, so type imports need the resolution-mode attribute; only this file carries it.
 */
export type {
  KubernetesObject,
  V1Affinity,
  V1Container,
  V1Deployment,
  V1EnvFromSource,
  V1EnvVar,
  V1Job,
  V1NetworkPolicyPeer,
  V1NetworkPolicySpec,
  V1LocalObjectReference,
  V1ObjectMeta,
  V1OwnerReference,
  V1PodDisruptionBudget,
  V1PodSpec,
  V1PodTemplateSpec,
  V1Secret,
  V1Service,
  V1ServiceAccount,
  V1Toleration,
  V1TopologySpreadConstraint,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
