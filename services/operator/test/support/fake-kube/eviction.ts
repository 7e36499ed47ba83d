import { isObject, type JsonObject } from './json';
import type { ResourceType } from './resources';
import { parseLabelSelector } from './selectors';
import { notFound, StatusError, type ObjectStore } from './store';

/**
 * The eviction subresource (POST pods/<name>/eviction, policy/v1 Eviction) as the API server answers it
 * (pkg/registry/core/pod/storage/eviction.go): the pod is deleted only if the one PodDisruptionBudget that selects
 * it allows a disruption now, and that disruption is then taken from the budget's status (disruptionsAllowed goes
 * down, the pod is listed in disruptedPods) before the pod goes, so two evictions cannot both spend the last one.
 * Refusals are 429 TooManyRequests with a DisruptionBudget cause, which clients are expected to retry later.
 */
export function evictPod(
  store: ObjectStore,
  resources: { pods: ResourceType; pdbs: ResourceType },
  namespace: string,
  name: string,
  body: JsonObject,
  now = new Date(),
): { status: number; body: JsonObject } {
  const bodyName = (body.metadata as { name?: string } | undefined)?.name;
  if (bodyName !== undefined && bodyName !== name) {
    throw new StatusError(400, 'BadRequest', 'name in URL does not match name in Eviction object');
  }
  const stored = store.read(resources.pods, namespace, name);
  if (!stored) throw notFound(resources.pods, name);
  const pod = stored.object;
  const meta = pod.metadata as { uid?: string; labels?: Record<string, string>; deletionTimestamp?: string };
  const deleteOptions = (body.deleteOptions ?? {}) as { preconditions?: { uid?: string }; gracePeriodSeconds?: number };
  const uid = deleteOptions.preconditions?.uid;
  if (uid && uid !== meta.uid) {
    throw new StatusError(409, 'Conflict', `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${meta.uid}`);
  }
  const success = () => {
    // An evicted pod is deleted like any other: it stays Terminating for its grace period.
    store.delete(resources.pods, namespace, name, {
      ...(uid ? { uid } : {}),
      ...(deleteOptions.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: deleteOptions.gracePeriodSeconds } : {}),
    });
    return { status: 201, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 } };
  };
  // Pods that are not (yet, or any more) running cost no availability: no budget is consulted.
  const phase = (pod.status as { phase?: string } | undefined)?.phase;
  if (meta.deletionTimestamp || phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending') return success();

  const budgets = store
    .list({ resource: resources.pdbs, namespace, labels: () => true, fields: () => true })
    .filter((pdb) => selects(pdb, meta.labels ?? {}));
  if (budgets.length > 1) {
    throw new StatusError(500, 'InternalError', 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.');
  }
  const budget = budgets[0];
  if (!budget) return success();
  const budgetName = String((budget.metadata as JsonObject).name);
  const status = (budget.status ?? {}) as {
    observedGeneration?: number;
    disruptionsAllowed?: number;
    currentHealthy?: number;
    desiredHealthy?: number;
    disruptedPods?: Record<string, string>;
  };
  const refuse = (cause: string) =>
    new StatusError(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", {
      causes: [{ reason: 'DisruptionBudget', message: cause }],
    });
  if ((status.observedGeneration ?? 0) < Number((budget.metadata as JsonObject).generation ?? 0)) {
    throw refuse(`The disruption budget ${budgetName} is still being processed by the server.`);
  }
  const healthy = status.currentHealthy ?? 0;
  const desired = status.desiredHealthy ?? 0;
  // An unready pod adds nothing to availability: with the default unhealthyPodEvictionPolicy (IfHealthyBudget) it
  // may go while the budget's healthy pods are enough, without spending a disruption.
  if (!isReady(pod)) {
    const policy = (budget.spec as { unhealthyPodEvictionPolicy?: string } | undefined)?.unhealthyPodEvictionPolicy;
    if (policy === 'AlwaysAllow' || healthy >= desired) return success();
    throw refuse(`The disruption budget ${budgetName} needs ${desired} healthy pods and has ${healthy} currently`);
  }
  if ((status.disruptionsAllowed ?? 0) <= 0) {
    throw refuse(`The disruption budget ${budgetName} needs ${desired} healthy pods and has ${healthy} currently`);
  }
  store.commit(
    resources.pdbs,
    namespace,
    budgetName,
    {
      object: {
        ...budget,
        status: {
          ...status,
          disruptionsAllowed: (status.disruptionsAllowed ?? 0) - 1,
          disruptedPods: { ...(status.disruptedPods ?? {}), [name]: now.toISOString().replace(/\.\d+Z$/, 'Z') },
        },
      },
      owners: store.read(resources.pdbs, namespace, budgetName)?.owners ?? new Map<string, Set<string>>(),
    },
    'status',
  );
  return success();
}

/**
 * What the disruption controller writes into each budget's status, from the pods it selects now: healthy (Ready)
 * pods, how many must stay healthy (from minAvailable or maxUnavailable, integers or percentages of the selected
 * pods) and so how many may be disrupted. The fake has no controllers: tests call this where the real one would run.
 */
export function disruptionStatus(pdb: JsonObject, pods: readonly JsonObject[]): JsonObject {
  const live = pods.filter((p) => selects(pdb, ((p.metadata as JsonObject).labels ?? {}) as Record<string, string>) && !(p.metadata as JsonObject).deletionTimestamp);
  const expected = live.length;
  const healthy = live.filter(isReady).length;
  const spec = (pdb.spec ?? {}) as { minAvailable?: number | string; maxUnavailable?: number | string };
  const count = (v: number | string) => (typeof v === 'number' ? v : Math.ceil((parseInt(v, 10) / 100) * expected));
  const desired = spec.minAvailable !== undefined ? count(spec.minAvailable) : Math.max(0, expected - count(spec.maxUnavailable ?? 0));
  return {
    observedGeneration: Number((pdb.metadata as JsonObject).generation ?? 0),
    expectedPods: expected,
    currentHealthy: healthy,
    desiredHealthy: desired,
    disruptionsAllowed: Math.max(0, healthy - desired),
  };
}

/** policy/v1: an empty selector selects every pod of the namespace. */
function selects(pdb: JsonObject, labels: Record<string, string>): boolean {
  const selector = (pdb.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector ?? {};
  const requirements = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  return parseLabelSelector(requirements)(labels);
}

function isReady(pod: JsonObject): boolean {
  const conditions = (pod.status as { conditions?: unknown } | undefined)?.conditions;
  return Array.isArray(conditions) && conditions.some((c) => isObject(c) && c.type === 'Ready' && c.status === 'True');
}
