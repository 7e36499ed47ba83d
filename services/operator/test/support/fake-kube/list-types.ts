import type { Json, JsonObject } from './json';

/**
 * How server-side apply treats a list (structured-merge-diff's reading of the OpenAPI schema): `atomic` lists are
 * one value, replaced whole and owned whole; `map` lists merge item by item, each item named by its key fields
 * (`k:{"name":"relay"}` in managedFields); `set` lists of scalars merge value by value (`v:"x"`).
 */
export type ListType =
  | { type: 'atomic' }
  | { type: 'set' }
  | {
      type: 'map';
      keys: readonly string[];
      /** Key fields the server defaults when an item leaves them out (container ports' protocol: TCP). */
      defaults?: Readonly<Record<string, Json>>;
    };

/** The list type at a path of field names (list items left out: spec.template.spec.containers.env). */
export type ListTypes = (fields: readonly string[]) => ListType;

const ATOMIC: ListType = { type: 'atomic' };
const map = (keys: string[], defaults?: Record<string, Json>): ListType => ({ type: 'map', keys, ...(defaults ? { defaults } : {}) });

const CONTAINER_LISTS = new Set(['containers', 'initContainers', 'ephemeralContainers']);

/**
 * The built-in kinds' lists, from the Kubernetes API types' markers (k8s.io/api core/v1, apps/v1, policy/v1 and
 * meta/v1 types.go: `+listType`/`+listMapKey`, or `patchStrategy=merge` with `patchMergeKey`, which
 * structured-merge-diff reads as a map list). Lists with neither (tolerations, args, command, envFrom,
 * matchExpressions, clusterIPs) are atomic.
 */
function builtinListType(kind: string, fields: readonly string[]): ListType {
  const last = fields[fields.length - 1] ?? '';
  const parent = fields[fields.length - 2] ?? '';
  if (fields.length === 2 && parent === 'metadata') {
    if (last === 'ownerReferences') return map(['uid']);
    if (last === 'finalizers') return { type: 'set' };
    return ATOMIC;
  }
  if (fields.length === 2 && parent === 'status' && last === 'conditions') return map(['type']);
  if (kind === 'Service' && fields.length === 2 && fields[0] === 'spec' && last === 'ports') return map(['port', 'protocol'], { protocol: 'TCP' });
  // Pod specs: a Pod's spec, a Deployment's spec.template.spec.
  const podSpec = kind === 'Pod' ? ['spec'] : kind === 'Deployment' ? ['spec', 'template', 'spec'] : undefined;
  if (!podSpec || !podSpec.every((f, i) => fields[i] === f)) return ATOMIC;
  const rest = fields.slice(podSpec.length);
  if (rest.length === 1) {
    if (CONTAINER_LISTS.has(last)) return map(['name']);
    if (last === 'volumes' || last === 'imagePullSecrets') return map(['name']);
    if (last === 'topologySpreadConstraints') return map(['topologyKey', 'whenUnsatisfiable']);
    return ATOMIC;
  }
  if (rest.length === 2 && CONTAINER_LISTS.has(rest[0]!)) {
    if (last === 'env') return map(['name']);
    if (last === 'ports') return map(['containerPort', 'protocol'], { protocol: 'TCP' });
    if (last === 'volumeMounts') return map(['mountPath']);
    if (last === 'volumeDevices') return map(['devicePath']);
  }
  return ATOMIC;
}

export const builtinListTypes =
  (kind: string): ListTypes =>
  (fields) =>
    builtinListType(kind, fields);

/** A custom resource's lists, from its CRD's structural schema: `x-kubernetes-list-type`, atomic when unmarked. */
export function crdListTypes(openAPIV3Schema: JsonObject | undefined): ListTypes {
  return (fields) => {
    let node: JsonObject | undefined = openAPIV3Schema;
    for (const field of fields) {
      while (node && node.type === 'array') node = node.items as JsonObject | undefined;
      const properties = node?.properties as Record<string, JsonObject> | undefined;
      const next: JsonObject | undefined = properties?.[field] ?? (typeof node?.additionalProperties === 'object' ? (node.additionalProperties as JsonObject) : undefined);
      node = next;
    }
    const type = node?.['x-kubernetes-list-type'];
    if (type === 'map') return map((node?.['x-kubernetes-list-map-keys'] as string[] | undefined) ?? []);
    if (type === 'set') return { type: 'set' };
    return ATOMIC;
  };
}
