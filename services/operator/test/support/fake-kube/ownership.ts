import { clone, deepEqual, type Json, type JsonObject } from './json';
import { deleteField, FieldPathError, fieldLeaves, getField, readable, setField } from './field-set';
import { apiVersionOf, type ResourceType } from './resources';
import { copyOwners, StatusError, type Owners, type StoredObject, type WriteScope } from './store';

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
  '/metadata/deletionGracePeriodSeconds',
  '/metadata/managedFields',
];

function inScope(path: string, scope: WriteScope, r: ResourceType): boolean {
  if (SERVER_FIELDS.some((p) => path === p || path.startsWith(p + '/'))) return false;
  const isStatus = path === '/status' || path.startsWith('/status/');
  return scope === 'status' ? isStatus : !(r.status && isStatus);
}

/** The leaves of an object by field path; a malformed map list (an item without its key, a duplicate) is a 422. */
function leavesOf(r: ResourceType, object: Json): Map<string, Json> {
  try {
    return fieldLeaves(object, r.lists);
  } catch (err) {
    if (err instanceof FieldPathError) throw new StatusError(422, 'Invalid', `${r.kind} is invalid: ${err.message}`);
    throw err;
  }
}

/**
 * Server-side apply as structured-merge-diff does it, reduced to what tells a correct client from a wrong one:
 * the applied configuration is merged into the object, map lists item by item (by their keys) and set lists value
 * by value, atomic lists whole; fields this manager applied before and leaves out now are removed unless another
 * manager also owns them (a list item goes once nobody owns anything in it); a field another manager owns with a
 * different value is a 409 conflict unless `force` is given, which takes it over. Applying the value another
 * manager owns shares ownership of it.
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
  const owners = copyOwners(current?.owners ?? new Map());
  const applied = [...leavesOf(r, body)].filter(([p]) => inScope(p, scope, r));
  const others = (p: string) => [...(owners.get(p) ?? [])].filter((m) => m !== manager);
  const conflicts = applied.filter(([p, v]) => {
    const existing = getField(object, p, r.lists);
    return others(p).length > 0 && existing !== undefined && !deepEqual(existing, v);
  });
  if (conflicts.length > 0 && !force) {
    const causes = conflicts.flatMap(([p]) =>
      others(p).map((m) => ({ type: 'FieldManagerConflict', message: `conflict with "${m}" using ${apiVersionOf(r)}`, field: readable(p) })),
    );
    const list = causes.map((c) => `${c.message}: ${c.field}`).join('\n- ');
    const message = causes.length === 1 ? `Apply failed with 1 conflict: ${list}` : `Apply failed with ${causes.length} conflicts: \n- ${list}`;
    throw new StatusError(409, 'Conflict', message, { causes });
  }
  const appliedPaths = new Set(applied.map(([p]) => p));
  const dropped: string[] = [];
  for (const [p, managers] of owners) {
    if (!managers.has(manager) || !inScope(p, scope, r) || appliedPaths.has(p)) continue;
    managers.delete(manager);
    if (managers.size === 0) {
      owners.delete(p);
      dropped.push(p);
    }
  }
  const stillOwned = (prefix: string) => [...owners.keys()].some((p) => p === prefix || p.startsWith(prefix + '/'));
  for (const p of dropped) deleteField(object, p, r.lists, stillOwned);
  for (const [p, v] of applied) {
    const same = deepEqual(getField(object, p, r.lists), v);
    setField(object, p, v, r.lists);
    const managers = same ? owners.get(p) ?? new Set<string>() : new Set<string>();
    managers.add(manager);
    owners.set(p, managers);
  }
  return { object, owners };
}

/** A create, update or non-apply patch: the writer becomes the sole owner of every field it changed. */
export function trackUpdate(
  previous: StoredObject | undefined,
  next: JsonObject,
  manager: string,
  scope: WriteScope,
  r: ResourceType,
): StoredObject {
  const owners = copyOwners(previous?.owners ?? new Map());
  const before = previous ? leavesOf(r, previous.object) : new Map<string, Json>();
  const after = leavesOf(r, next);
  for (const [p, v] of after) if (inScope(p, scope, r) && !deepEqual(before.get(p), v)) owners.set(p, new Set([manager]));
  for (const p of [...owners.keys()]) if (inScope(p, scope, r) && !after.has(p)) owners.delete(p);
  return { object: next, owners };
}

/** managedFields-style summary for tests: each manager's field paths, sorted. */
export function managedBy(owners: Owners): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [p, managers] of owners) for (const m of managers) (out[m] ??= []).push(p);
  for (const paths of Object.values(out)) paths.sort();
  return out;
}
