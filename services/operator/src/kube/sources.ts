import { API_GROUP, API_VERSION, PLURAL } from '../api/group';
import type { OutboxRelayResource } from '../api/types';
import { APP_NAME, COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from '../reconcile/metadata';
import { PARTITION_JOB_COMPONENT } from '../reconcile/partition-job';
import { makeApiClient } from './api-clients';
import { k8s, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1Deployment, type V1Job, type V1NetworkPolicy, type V1Pod, type V1Secret } from './client-node';

/**
 * What an informer lists and watches: the watch path and the list call must name the same collection. The list
 * has the API clients' timeout; the watch is a long-lived stream that ResilientInformer's periodic relist repairs
 * when it hangs.
 */
export interface WatchSource<T extends KubernetesObject> {
  /** For logs and metrics. */
  name: string;
  path: string;
  list(): Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  fieldSelector?: string;
}

/** Selects the relay pods (every pod of every OutboxRelay carries the app name label). */
export const RELAY_POD_SELECTOR = `app.kubernetes.io/name=${APP_NAME}`;
/** Selects what the operator created. */
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

const scoped = (prefix: string, namespace: string | undefined, plural: string) =>
  namespace ? `${prefix}/namespaces/${encodeURIComponent(namespace)}/${plural}` : `${prefix}/${plural}`;

/** OutboxRelays in one namespace, or in all when `namespace` is undefined. */
export function relaySource(kc: KubeConfig, namespace?: string, timeoutMs?: number): WatchSource<OutboxRelayResource> {
  const api = makeApiClient(kc, k8s.CustomObjectsApi, timeoutMs);
  const base = { group: API_GROUP, version: API_VERSION, plural: PLURAL };
  return {
    name: 'outboxrelays',
    path: scoped(`/apis/${API_GROUP}/${API_VERSION}`, namespace, PLURAL),
    list: async () =>
      (namespace ? await api.listNamespacedCustomObject({ ...base, namespace }) : await api.listClusterCustomObject(base)) as KubernetesListObject<OutboxRelayResource>,
  };
}

export function deploymentSource(kc: KubeConfig, namespace?: string, timeoutMs?: number): WatchSource<V1Deployment> {
  const api = makeApiClient(kc, k8s.AppsV1Api, timeoutMs);
  const labelSelector = MANAGED_SELECTOR;
  return {
    name: 'deployments',
    path: scoped('/apis/apps/v1', namespace, 'deployments'),
    labelSelector,
    list: () => (namespace ? api.listNamespacedDeployment({ namespace, labelSelector }) : api.listDeploymentForAllNamespaces({ labelSelector })),
  };
}

export function podSource(kc: KubeConfig, namespace?: string, timeoutMs?: number): WatchSource<V1Pod> {
  const api = makeApiClient(kc, k8s.CoreV1Api, timeoutMs);
  const labelSelector = RELAY_POD_SELECTOR;
  return {
    name: 'pods',
    path: scoped('/api/v1', namespace, 'pods'),
    labelSelector,
    list: () => (namespace ? api.listNamespacedPod({ namespace, labelSelector }) : api.listPodForAllNamespaces({ labelSelector })),
  };
}

export function networkPolicySource(kc: KubeConfig, namespace?: string, timeoutMs?: number): WatchSource<V1NetworkPolicy> {
  const api = makeApiClient(kc, k8s.NetworkingV1Api, timeoutMs);
  const labelSelector = MANAGED_SELECTOR;
  return {
    name: 'networkpolicies',
    path: scoped('/apis/networking.k8s.io/v1', namespace, 'networkpolicies'),
    labelSelector,
    list: () =>
      namespace ? api.listNamespacedNetworkPolicy({ namespace, labelSelector }) : api.listNetworkPolicyForAllNamespaces({ labelSelector }),
  };
}

/** Selects the relays' partition-count Jobs (partition-job.ts), and no other Job. */
export const PARTITION_JOB_SELECTOR = `${MANAGED_SELECTOR},${COMPONENT_LABEL}=${PARTITION_JOB_COMPONENT}`;

export function partitionJobSource(kc: KubeConfig, namespace?: string, timeoutMs?: number): WatchSource<V1Job> {
  const api = makeApiClient(kc, k8s.BatchV1Api, timeoutMs);
  const labelSelector = PARTITION_JOB_SELECTOR;
  return {
    name: 'jobs',
    path: scoped('/apis/batch/v1', namespace, 'jobs'),
    labelSelector,
    list: () => (namespace ? api.listNamespacedJob({ namespace, labelSelector }) : api.listJobForAllNamespaces({ labelSelector })),
  };
}

/**
 * Secret types no relay reads, left out of the cache: Helm keeps every revision of every release as a Secret of its
 * own (often hundreds of kilobytes each), and service-account token Secrets are one per account. In a shared cluster
 * they are most of the Secrets' bytes, which the operator would otherwise hold in memory.
 */
export const UNREAD_SECRET_TYPES = ['helm.sh/release.v1', 'kubernetes.io/service-account-token'] as const;
export const READABLE_SECRETS_FIELD_SELECTOR = UNREAD_SECRET_TYPES.map((type) => `type!=${type}`).join(',');

/**
 * The Secrets of the watched namespaces a relay may read (its database URL, NATS credentials, the user's env): a
 * Secret cannot be told apart by a label the operator does not put on it, only by its type.
 */
export function secretSource(kc: KubeConfig, namespace?: string, timeoutMs?: number): WatchSource<V1Secret> {
  const api = makeApiClient(kc, k8s.CoreV1Api, timeoutMs);
  const fieldSelector = READABLE_SECRETS_FIELD_SELECTOR;
  return {
    name: 'secrets',
    path: scoped('/api/v1', namespace, 'secrets'),
    fieldSelector,
    list: () => (namespace ? api.listNamespacedSecret({ namespace, fieldSelector }) : api.listSecretForAllNamespaces({ fieldSelector })),
  };
}
