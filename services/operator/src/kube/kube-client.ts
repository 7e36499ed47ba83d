import { API_GROUP, API_GROUP_VERSION, API_VERSION, FIELD_MANAGER, KIND, PLURAL } from '../api/group';
import type { OutboxRelayResource, OutboxRelayStatus } from '../api/types';
import { KubeApiError, httpStatusOf } from '../errors';
import { DEFAULT_KUBE_API_TIMEOUT_MS, makeApiClient, makeObjectApiClient } from './api-clients';
import { k8s, type CoreV1Event, type KubeConfig, type KubernetesObject } from './client-node';

/** The writes and reads the controller makes, each one API call; what it needs to know (not found, conflict)
 * comes back as a value, every other failure as a KubeApiError. */
export interface RelayCluster {
  getRelay(namespace: string, name: string): Promise<OutboxRelayResource | undefined>;
  apply(object: KubernetesObject): Promise<KubernetesObject>;
  applyRelayStatus(relay: OutboxRelayResource, status: OutboxRelayStatus): Promise<OutboxRelayResource>;
  /** false when the pod is already gone or was replaced by another pod of the same name. */
  deletePod(namespace: string, name: string, uid?: string): Promise<boolean>;
  createEvent(event: CoreV1Event): Promise<void>;
}

/** Server-side apply: the content type client-node would not choose itself (it defaults to JSON or strategic
 * merge patch), our field manager, and force, since the operator is the one owner of what it applies. */
const applyHeaders = () => k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);

export class KubeClient implements RelayCluster {
  private readonly objects: InstanceType<typeof k8s.KubernetesObjectApi>;
  private readonly custom: InstanceType<typeof k8s.CustomObjectsApi>;
  private readonly core: InstanceType<typeof k8s.CoreV1Api>;

  private readonly fieldManager: string;

  /** `timeoutMs` bounds every request (client-node sets no timeout of its own). */
  constructor(kubeConfig: KubeConfig, options: { timeoutMs?: number; fieldManager?: string } = {}) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_KUBE_API_TIMEOUT_MS;
    this.fieldManager = options.fieldManager ?? FIELD_MANAGER;
    this.objects = makeObjectApiClient(kubeConfig, timeoutMs);
    this.custom = makeApiClient(kubeConfig, k8s.CustomObjectsApi, timeoutMs);
    this.core = makeApiClient(kubeConfig, k8s.CoreV1Api, timeoutMs);
  }

  async getRelay(namespace: string, name: string): Promise<OutboxRelayResource | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace, plural: PLURAL, name })) as OutboxRelayResource;
    } catch (err) {
      if (httpStatusOf(err) === 404) return undefined;
      throw new KubeApiError('get', { kind: KIND, namespace, name }, err);
    }
  }

  /** Creates or updates any object by server-side apply. The object is copied: client-node fills in defaults. */
  async apply(object: KubernetesObject): Promise<KubernetesObject> {
    const copy = JSON.parse(JSON.stringify(object)) as KubernetesObject;
    try {
      return await this.objects.patch(copy, undefined, undefined, this.fieldManager, true, k8s.PatchStrategy.ServerSideApply);
    } catch (err) {
      throw new KubeApiError('apply', { kind: object.kind ?? 'object', namespace: object.metadata?.namespace, name: object.metadata?.name }, err);
    }
  }

  /** Applies the whole status through the status subresource: fields left out of `status` are removed. */
  async applyRelayStatus(relay: OutboxRelayResource, status: OutboxRelayStatus): Promise<OutboxRelayResource> {
    const namespace = relay.metadata?.namespace ?? 'default';
    const name = relay.metadata?.name ?? '';
    const body = { apiVersion: API_GROUP_VERSION, kind: KIND, metadata: { name, namespace }, status };
    try {
      return (await this.custom.patchNamespacedCustomObjectStatus(
        { group: API_GROUP, version: API_VERSION, namespace, plural: PLURAL, name, body, fieldManager: this.fieldManager, force: true },
        applyHeaders(),
      )) as OutboxRelayResource;
    } catch (err) {
      throw new KubeApiError('apply status of', { kind: KIND, namespace, name }, err);
    }
  }

  async deletePod(namespace: string, name: string, uid?: string): Promise<boolean> {
    try {
      await this.core.deleteNamespacedPod({ namespace, name, ...(uid ? { body: { preconditions: { uid } } } : {}) });
      return true;
    } catch (err) {
      const status = httpStatusOf(err);
      if (status === 404 || status === 409) return false;
      throw new KubeApiError('delete', { kind: 'Pod', namespace, name }, err);
    }
  }

  async createEvent(event: CoreV1Event): Promise<void> {
    const namespace = event.metadata?.namespace ?? 'default';
    try {
      await this.core.createNamespacedEvent({ namespace, body: event });
    } catch (err) {
      throw new KubeApiError('create', { kind: 'Event', namespace, name: event.metadata?.name }, err);
    }
  }
}
