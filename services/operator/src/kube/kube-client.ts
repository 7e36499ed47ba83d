import { API_GROUP, API_GROUP_VERSION, API_VERSION, FIELD_MANAGER, KIND, PLURAL } from '../api/group';
import type { OutboxRelayResource, OutboxRelayStatus } from '../api/types';
import { KubeApiError, httpStatusOf } from '../errors';
import { DEFAULT_KUBE_API_TIMEOUT_MS, makeApiClient, makeObjectApiClient } from './api-clients';
import { k8s, type CoreV1Event, type KubeConfig, type KubernetesObject, type V1Secret } from './client-node';

/** The writes and reads the controller makes, each one API call; what it needs to know (not found, conflict)
 * comes back as a value, every other failure as a KubeApiError. */
export interface RelayCluster {
  getRelay(namespace: string, name: string): Promise<OutboxRelayResource | undefined>;
  apply(object: KubernetesObject): Promise<KubernetesObject>;
  /**
   * Replaces the status if the relay is still at the resourceVersion it was read at; undefined when it changed
   * since (409) or is gone. Decisions are made on what was read: a write on top of a newer version could undo
   * another writer's record (another operator's failover) or act on a stale view.
   */
  replaceRelayStatus(relay: OutboxRelayResource, status: OutboxRelayStatus): Promise<OutboxRelayResource | undefined>;
  /** Through the Eviction API, which honours the pod's PodDisruptionBudget. */
  evictPod(namespace: string, name: string, uid: string): Promise<EvictionOutcome>;
  /** Merges annotations into a pod's (null removes one); false when the pod is gone. */
  annotatePod(namespace: string, name: string, annotations: Record<string, string | null>): Promise<boolean>;
  createEvent(event: CoreV1Event): Promise<void>;
  /** Creates a Secret (never replaces one); false when one of that name exists already. */
  createSecret(secret: V1Secret): Promise<boolean>;
  /** Deletes an object the operator made; false when it is gone already. */
  deleteObject(ref: { apiVersion: string; kind: string; namespace: string; name: string }): Promise<boolean>;
}

/**
 * evicted: the pod is being deleted. gone: it no longer exists, or was replaced by another of the same name.
 * blocked: the PodDisruptionBudget allows no disruption now (429), with the API server's reason: try again later.
 */
export type EvictionOutcome = { kind: 'evicted' } | { kind: 'gone' } | { kind: 'blocked'; message: string };

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
    const copy = inClientModelForm(JSON.parse(JSON.stringify(object)) as KubernetesObject);
    try {
      return await this.objects.patch(copy, undefined, undefined, this.fieldManager, true, k8s.PatchStrategy.ServerSideApply);
    } catch (err) {
      throw new KubeApiError('apply', { kind: object.kind ?? 'object', namespace: object.metadata?.namespace, name: object.metadata?.name }, err);
    }
  }

  /**
   * The whole status, through the status subresource (PUT, so fields left out are removed), with the
   * resourceVersion the relay was read at as a precondition.
   */
  async replaceRelayStatus(relay: OutboxRelayResource, status: OutboxRelayStatus): Promise<OutboxRelayResource | undefined> {
    const namespace = relay.metadata?.namespace ?? 'default';
    const name = relay.metadata?.name ?? '';
    const body = {
      apiVersion: API_GROUP_VERSION,
      kind: KIND,
      // The status subresource keeps everything but .status from the stored object; resourceVersion (and uid: a
      // relay deleted and created again under the same name) are the preconditions.
      metadata: { name, namespace, resourceVersion: relay.metadata?.resourceVersion ?? '', ...(relay.metadata?.uid ? { uid: relay.metadata.uid } : {}) },
      spec: relay.spec,
      status,
    };
    try {
      return (await this.custom.replaceNamespacedCustomObjectStatus({
        group: API_GROUP,
        version: API_VERSION,
        namespace,
        plural: PLURAL,
        name,
        body,
        fieldManager: this.fieldManager,
      })) as OutboxRelayResource;
    } catch (err) {
      const code = httpStatusOf(err);
      if (code === 409 || code === 404) return undefined;
      throw new KubeApiError('replace status of', { kind: KIND, namespace, name }, err);
    }
  }

  async evictPod(namespace: string, name: string, uid: string): Promise<EvictionOutcome> {
    const body = {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name, namespace },
      ...(uid ? { deleteOptions: { preconditions: { uid } } } : {}),
    };
    try {
      await this.core.createNamespacedPodEviction({ namespace, name, body });
      return { kind: 'evicted' };
    } catch (err) {
      const code = httpStatusOf(err);
      if (code === 404 || code === 409) return { kind: 'gone' };
      if (code === 429) return { kind: 'blocked', message: evictionRefusal(err) };
      throw new KubeApiError('evict', { kind: 'Pod', namespace, name }, err);
    }
  }

  async annotatePod(namespace: string, name: string, annotations: Record<string, string | null>): Promise<boolean> {
    try {
      await this.core.patchNamespacedPod(
        { namespace, name, body: { metadata: { annotations } }, fieldManager: this.fieldManager },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      return true;
    } catch (err) {
      if (httpStatusOf(err) === 404) return false;
      throw new KubeApiError('annotate', { kind: 'Pod', namespace, name }, err);
    }
  }

  async createSecret(secret: V1Secret): Promise<boolean> {
    const namespace = secret.metadata?.namespace ?? 'default';
    try {
      await this.core.createNamespacedSecret({ namespace, body: secret, fieldManager: this.fieldManager });
      return true;
    } catch (err) {
      if (httpStatusOf(err) === 409) return false;
      throw new KubeApiError('create', { kind: 'Secret', namespace, name: secret.metadata?.name }, err);
    }
  }

  async deleteObject(ref: { apiVersion: string; kind: string; namespace: string; name: string }): Promise<boolean> {
    try {
      await this.objects.delete({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { namespace: ref.namespace, name: ref.name } });
      return true;
    } catch (err) {
      if (httpStatusOf(err) === 404) return false;
      throw new KubeApiError('delete', { kind: ref.kind, namespace: ref.namespace, name: ref.name }, err);
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

/**
 * client-node serializes an applied object through its model of the kind, which names a NetworkPolicy ingress
 * rule's `from` `_from` (a reserved word): a plain `from` would be dropped, leaving a rule that lets everyone in.
 */
function inClientModelForm(object: KubernetesObject): KubernetesObject {
  if (object.kind !== 'NetworkPolicy') return object;
  const rules = (object as { spec?: { ingress?: Array<Record<string, unknown>> } }).spec?.ingress ?? [];
  for (const rule of rules) {
    if (!('from' in rule)) continue;
    rule._from = rule.from;
    delete rule.from;
  }
  return object;
}

/** The PodDisruptionBudget's reason a 429 carries (its DisruptionBudget cause), else the Status message. */
function evictionRefusal(err: unknown): string {
  const raw = (err as { body?: unknown } | null | undefined)?.body;
  let body: unknown = raw;
  if (typeof raw === 'string') {
    try {
      body = JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  const status = body as { message?: string; details?: { causes?: Array<{ reason?: string; message?: string }> } } | undefined;
  const cause = status?.details?.causes?.find((c) => c.reason === 'DisruptionBudget')?.message;
  return [status?.message, cause].filter(Boolean).join(' ') || 'refused by the PodDisruptionBudget';
}
