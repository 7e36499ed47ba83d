import { clone, deepEqual, deleteAt, getAt, leaves, setAt, type Json, type JsonObject } from './json';
import type { ResourceType } from './resources';
import { StatusError, type StoredObject, type WriteScope } from './store';

/** Metadata the server owns: never part of anyone's applied configuration. */
const SERVER_FIELDS = [
  '/apiVersion',
  '/kind',
  '/metadata/name',
  '/metadata/namespace',
  '/metadata/uid',
  '/metadata/resourceVersion',
  '/metadata/generation',
  '/metadata/creationTimestamp',
  '/metadata/deletionTimestamp',
  '/metadata/managedFields',
];

function inScope(path: string, scope: WriteScope, r: ResourceType): boolean {
  if (SERVER_FIELDS.some((p) => path === p || path.startsWith(p + '/'))) return false;
  const isStatus = path === '/status' || path.startsWith('/status/');
  return scope === 'status' ? isStatus : !(r.status && isStatus);
}

/**
 * Server-side apply, reduced to what tells a correct client from a wrong one: the applied configuration is merged
 * into the object; fields this manager applied before and leaves out now are removed; a field another manager set
 * to a different value is a 409 conflict unless `force` is given. Lists are atomic (no merge keys).
 */
export function serverSideApply(
  current: StoredObject | undefined,
  body: JsonObject,
  manager: string,
  force: boolean,
  scope: WriteScope,
  r: ResourceType,
): StoredObject {
  const object: JsonObject = current ? clone(current.object) : { metadata: {} };
  const owners = new Map(current?.owners ?? []);
  const applied = [...leaves(body)].filter(([p]) => inScope(p, scope, r));
  const conflicts = applied.filter(([p, v]) => {
    const owner = owners.get(p);
    return owner !== undefined && owner !== manager && !deepEqual(getAt(object, p), v);
  });
  if (conflicts.length > 0 && !force) {
    const list = conflicts.map(([p]) => `conflict with "${owners.get(p)}": ${p.replace(/\//g, '.')}`).join(', ');
    throw new StatusError(409, 'Conflict', `Apply failed with ${conflicts.length} conflict(s): ${list}`);
  }
  const appliedPaths = new Set(applied.map(([p]) => p));
  for (const [p, owner] of [...owners]) {
    if (owner === manager && inScope(p, scope, r) && !appliedPaths.has(p)) {
      deleteAt(object, p);
      owners.delete(p);
    }
  }
  for (const [p, v] of applied) {
    setAt(object, p, v);
    owners.set(p, manager);
  }
  return { object, owners };
}

/** A create, update or non-apply patch: the writer becomes the owner of every leaf it changed. */
export function trackUpdate(
  previous: StoredObject | undefined,
  next: JsonObject,
  manager: string,
  scope: WriteScope,
  r: ResourceType,
): StoredObject {
  const owners = new Map(previous?.owners ?? []);
  const before = previous ? leaves(previous.object) : new Map<string, Json>();
  const after = leaves(next);
  for (const [p, v] of after) if (inScope(p, scope, r) && !deepEqual(before.get(p), v)) owners.set(p, manager);
  for (const p of [...owners.keys()]) if (inScope(p, scope, r) && !after.has(p)) owners.delete(p);
  return { object: next, owners };
}
