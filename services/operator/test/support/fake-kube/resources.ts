import type { JsonObject } from './json';
import { builtinListTypes, crdListTypes, type ListTypes } from './list-types';

/** How the scale subresource maps onto an object (the CRD's `subresources.scale`, or a built-in's fixed paths). */
export interface ScaleMapping {
  specReplicasPath: string;
  statusReplicasPath: string;
  /** Returns the selector string the Scale object reports. */
  selector(obj: JsonObject): string | undefined;
}

/** One resource type the fake serves. */
export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** With a status subresource the main endpoint ignores .status and /status changes only .status. */
  status: boolean;
  scale?: ScaleMapping;
  /** Pods: POST <pod>/eviction deletes the pod if its PodDisruptionBudget allows. */
  eviction?: boolean;
  /** Custom resources refuse strategic merge patch, as the real server does. */
  custom: boolean;
  /** Which lists server-side apply merges by key, which by value, which whole. */
  lists: ListTypes;
  /** Pods: a DELETE leaves them Terminating for their grace period. */
  graceful?: boolean;
  /** A CRD's openAPIV3Schema, which admission validates custom resources against. */
  schema?: JsonObject;
}

export const apiVersionOf = (r: Pick<ResourceType, 'group' | 'version'>): string =>
  r.group ? `${r.group}/${r.version}` : r.version;

const matchLabelsSelector = (obj: JsonObject): string | undefined => {
  const labels = ((obj.spec as JsonObject | undefined)?.selector as JsonObject | undefined)?.matchLabels as
    | Record<string, string>
    | undefined;
  return labels ? Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',') : undefined;
};

const builtin = (
  group: string,
  version: string,
  plural: string,
  kind: string,
  extra: Partial<ResourceType> = {},
): ResourceType => ({ group, version, plural, kind, namespaced: true, status: false, custom: false, lists: builtinListTypes(kind), ...extra });

/** Built-in kinds the operator reads or writes, plus the ones tests create (pods). */
export const BUILTIN_RESOURCES: ResourceType[] = [
  builtin('', 'v1', 'pods', 'Pod', { status: true, eviction: true, graceful: true }),
  builtin('', 'v1', 'services', 'Service', { status: true }),
  builtin('', 'v1', 'serviceaccounts', 'ServiceAccount'),
  builtin('', 'v1', 'events', 'Event'),
  builtin('', 'v1', 'secrets', 'Secret'),
  builtin('apps', 'v1', 'deployments', 'Deployment', {
    status: true,
    scale: { specReplicasPath: '/spec/replicas', statusReplicasPath: '/status/replicas', selector: matchLabelsSelector },
  }),
  builtin('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', { status: true }),
  builtin('batch', 'v1', 'jobs', 'Job', { status: true }),
  builtin('coordination.k8s.io', 'v1', 'leases', 'Lease'),
  builtin('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy'),
];

/** A CustomResourceDefinition object (apiextensions.k8s.io/v1) as plain JSON: only the fields the fake reads. */
export interface CrdLike {
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string };
    versions: Array<{
      name: string;
      served?: boolean;
      schema?: { openAPIV3Schema?: object };
      subresources?: {
        status?: object;
        scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
      };
    }>;
  };
}

/** CRD paths are ".spec.replicas"; the fake works with JSON pointers. */
const dotted = (path: string) => path.replace(/\./g, '/');

export function resourcesFromCrd(crd: CrdLike): ResourceType[] {
  return crd.spec.versions
    .filter((v) => v.served !== false)
    .map((v) => {
      const scale = v.subresources?.scale;
      const selectorPath = scale?.labelSelectorPath ? dotted(scale.labelSelectorPath) : undefined;
      return {
        group: crd.spec.group,
        version: v.name,
        plural: crd.spec.names.plural,
        kind: crd.spec.names.kind,
        namespaced: crd.spec.scope === 'Namespaced',
        status: !!v.subresources?.status,
        custom: true,
        lists: crdListTypes(v.schema?.openAPIV3Schema as JsonObject | undefined),
        ...(v.schema?.openAPIV3Schema ? { schema: v.schema.openAPIV3Schema as JsonObject } : {}),
        ...(scale
          ? {
              scale: {
                specReplicasPath: dotted(scale.specReplicasPath),
                statusReplicasPath: dotted(scale.statusReplicasPath),
                selector: (obj: JsonObject) => {
                  if (!selectorPath) return undefined;
                  let node: unknown = obj;
                  for (const part of selectorPath.split('/').filter(Boolean)) node = (node as JsonObject | undefined)?.[part];
                  return typeof node === 'string' ? node : undefined;
                },
              },
            }
          : {}),
      };
    });
}

/** Discovery document (APIResourceList) of one group version, as KubernetesObjectApi reads it. */
export function resourceList(groupVersion: string, resources: ResourceType[]): JsonObject {
  const verbs = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
  const entries: JsonObject[] = [];
  for (const r of resources.filter((x) => apiVersionOf(x) === groupVersion)) {
    entries.push({ name: r.plural, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs });
    if (r.status) entries.push({ name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] });
    if (r.eviction) {
      entries.push({ name: `${r.plural}/eviction`, singularName: '', namespaced: r.namespaced, group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] });
    }
    if (r.scale) {
      entries.push({
        name: `${r.plural}/scale`,
        singularName: '',
        namespaced: r.namespaced,
        group: 'autoscaling',
        version: 'v1',
        kind: 'Scale',
        verbs: ['get', 'patch', 'update'],
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources: entries };
}
