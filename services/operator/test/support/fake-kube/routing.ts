import type { JsonObject } from './json';
import { resourceList, type ResourceType } from './resources';
import { StatusError } from './store';

/** What a request path names: a collection, an object, or an object's subresource. */
export interface Target {
  resource: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** The discovery documents client-node's KubernetesObjectApi reads (/api, /apis, /api/v1, /apis/<g>/<v>). */
export function discovery(pathname: string, resources: ResourceType[]): JsonObject | undefined {
  const parts = pathname.split('/').filter(Boolean);
  if (pathname === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
  if (pathname === '/apis') {
    const groups = [...new Set(resources.filter((r) => r.group).map((r) => r.group))];
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: groups.map((name) => {
        const versions = [...new Set(resources.filter((r) => r.group === name).map((r) => r.version))].map((version) => ({
          groupVersion: `${name}/${version}`,
          version,
        }));
        return { name, versions, preferredVersion: versions[0]! };
      }),
    };
  }
  if (parts[0] === 'api' && parts.length === 2) return resourceList(parts[1]!, resources);
  if (parts[0] === 'apis' && parts.length === 3) return resourceList(`${parts[1]}/${parts[2]}`, resources);
  return undefined;
}

export function resolveTarget(pathname: string, resources: ResourceType[]): Target {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const [group, version, rest] =
    parts[0] === 'api' ? ['', parts[1], parts.slice(2)] : parts[0] === 'apis' ? [parts[1], parts[2], parts.slice(3)] : ['', '', []];
  let namespace: string | undefined;
  let tail = rest;
  if (tail[0] === 'namespaces' && tail.length >= 3) {
    namespace = tail[1];
    tail = tail.slice(2);
  }
  const [plural, name, subresource] = tail;
  const resource = resources.find((r) => r.group === group && r.version === version && r.plural === plural);
  const unknown = () => new StatusError(404, 'NotFound', `the server could not find the requested resource (${pathname})`);
  if (!resource || tail.length > 3) throw unknown();
  if (resource.namespaced && name !== undefined && namespace === undefined) throw unknown();
  const served = (subresource === 'status' && resource.status) || (subresource === 'scale' && resource.scale) || (subresource === 'eviction' && resource.eviction);
  if (subresource && !served) throw unknown();
  return { resource, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}), ...(subresource ? { subresource } : {}) };
}

/** The RBAC verb a request needs, and what it acts on. */
export function classify(method: string, t: Target, query: Record<string, string>) {
  const verb =
    method === 'GET'
      ? t.name
        ? 'get'
        : query.watch === 'true' || query.watch === '1'
          ? 'watch'
          : 'list'
      : ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[method] ?? method.toLowerCase();
  return {
    verb,
    group: t.resource.group,
    resource: t.resource.plural,
    ...(t.subresource ? { subresource: t.subresource } : {}),
    ...(t.namespace ? { namespace: t.namespace } : {}),
    ...(t.name ? { name: t.name } : {}),
  };
}
