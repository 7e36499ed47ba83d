import { clone, deepEqual, isObject, pointer, segments, type Json, type JsonObject } from './json';
import type { ListType, ListTypes } from './list-types';

/**
 * Field paths as server-side apply tracks them (managedFields' fieldsV1): JSON-pointer-like segments where an
 * item of a map list is named by its key (`k:{"name":"relay"}`) and an item of a set list by its value
 * (`v:"x"`), never by its index, so two managers can each own items of one list. Atomic lists and scalars are
 * leaves.
 */
const KEY = 'k:';
const VALUE = 'v:';

export class FieldPathError extends Error {}

/** The key of a map-list item as managedFields writes it: key fields in alphabetical order, defaults filled in. */
function itemKey(item: Json, list: Extract<ListType, { type: 'map' }>, where: string): string {
  if (!isObject(item)) throw new FieldPathError(`${where}: an item of a map list must be an object`);
  const key: JsonObject = {};
  for (const name of [...list.keys].sort()) {
    const value = item[name] ?? list.defaults?.[name];
    if (value === undefined) throw new FieldPathError(`${where}: associative list with keys has an element that omits key field "${name}"`);
    key[name] = value;
  }
  return KEY + JSON.stringify(key);
}

const fieldsOf = (parts: readonly string[]) => parts.filter((p) => !p.startsWith(KEY) && !p.startsWith(VALUE));

/** Every leaf of `value` by field path. A map list's items must carry distinct keys (else a 422, as on the server). */
export function fieldLeaves(value: Json, types: ListTypes, prefix: string[] = []): Map<string, Json> {
  const out = new Map<string, Json>();
  const walk = (node: Json, parts: string[]) => {
    if (isObject(node) && Object.keys(node).length > 0) {
      for (const [k, v] of Object.entries(node)) walk(v, [...parts, k]);
      return;
    }
    const list = Array.isArray(node) && node.length > 0 ? types(fieldsOf(parts)) : undefined;
    if (!list || list.type === 'atomic') {
      if (parts.length > 0) out.set(pointer(parts), node);
      return;
    }
    const seen = new Set<string>();
    for (const item of node as Json[]) {
      const where = readable(pointer(parts));
      const seg = list.type === 'map' ? itemKey(item, list, where) : VALUE + JSON.stringify(item);
      if (seen.has(seg)) throw new FieldPathError(`${where}: duplicate entries for key ${seg.slice(2)}`);
      seen.add(seg);
      if (list.type === 'set') out.set(pointer([...parts, seg]), item);
      else walk(item, [...parts, seg]);
    }
  };
  walk(value, prefix);
  return out;
}

function findItem(list: Json[], seg: string, type: ListType): number {
  if (seg.startsWith(VALUE)) {
    const value = JSON.parse(seg.slice(VALUE.length)) as Json;
    return list.findIndex((item) => deepEqual(item, value));
  }
  if (type.type !== 'map') return -1;
  return list.findIndex((item) => {
    try {
      return itemKey(item, type, '') === seg;
    } catch {
      return false;
    }
  });
}

export function getField(root: Json, path: string, types: ListTypes): Json | undefined {
  let node: Json | undefined = root;
  const parts = segments(path);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part.startsWith(KEY) || part.startsWith(VALUE)) {
      if (!Array.isArray(node)) return undefined;
      node = node[findItem(node, part, types(fieldsOf(parts.slice(0, i))))];
    } else if (isObject(node)) {
      node = node[part];
    } else {
      return undefined;
    }
  }
  return node;
}

/**
 * Sets a leaf, creating the objects, lists and list items (from their keys) on the way. An empty object or list
 * only creates what is missing: it says the field exists, not that its contents go.
 */
export function setField(root: JsonObject, path: string, value: Json, types: ListTypes): void {
  const parts = segments(path);
  let node: Json = root;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const last = i === parts.length - 1;
    const nextIsItem = !last && (parts[i + 1]!.startsWith(KEY) || parts[i + 1]!.startsWith(VALUE));
    if (part.startsWith(KEY) || part.startsWith(VALUE)) {
      const list = node as Json[];
      const at = findItem(list, part, types(fieldsOf(parts.slice(0, i))));
      if (part.startsWith(VALUE)) {
        if (at < 0) list.push(clone(value));
        return;
      }
      if (at >= 0) node = list[at]!;
      else {
        const item = JSON.parse(part.slice(KEY.length)) as JsonObject;
        list.push(item);
        node = item;
      }
      continue;
    }
    const holder = node as JsonObject;
    if (last) {
      const empty = (isObject(value) && Object.keys(value).length === 0) || (Array.isArray(value) && value.length === 0);
      const existing = holder[part];
      if (empty && existing !== undefined && Array.isArray(existing) === Array.isArray(value) && isObject(existing) === isObject(value)) return;
      holder[part] = clone(value);
      return;
    }
    if (nextIsItem ? !Array.isArray(holder[part]) : !isObject(holder[part])) holder[part] = nextIsItem ? [] : {};
    node = holder[part]!;
  }
}

/**
 * Removes a leaf, or the whole list item holding it when nobody owns anything in that item any more
 * (`stillOwned` says, by path prefix); then objects and unowned lists left empty on the way up.
 */
export function deleteField(root: JsonObject, path: string, types: ListTypes, stillOwned: (prefix: string) => boolean): void {
  const parts = segments(path);
  // The item is found by its key fields, so it goes whole before any of them is removed.
  const item = parts.findIndex((part, i) => part.startsWith(KEY) && !stillOwned(pointer(parts.slice(0, i + 1))));
  const gone = item >= 0 ? parts.slice(0, item + 1) : parts;
  removeAt(root, gone, types);
  for (let i = gone.length - 1; i > 0; i--) {
    const node = getField(root, pointer(gone.slice(0, i)), types);
    const empty = (isObject(node) && Object.keys(node).length === 0) || (Array.isArray(node) && node.length === 0);
    if (!empty || stillOwned(pointer(gone.slice(0, i)))) return;
    removeAt(root, gone.slice(0, i), types);
  }
}

function removeAt(root: JsonObject, parts: readonly string[], types: ListTypes): void {
  const holder = getField(root, pointer(parts.slice(0, -1)), types);
  const last = parts[parts.length - 1]!;
  if (Array.isArray(holder)) {
    const at = findItem(holder, last, types(fieldsOf(parts.slice(0, -1))));
    if (at >= 0) holder.splice(at, 1);
  } else if (isObject(holder)) {
    delete holder[last];
  }
}

/** `.spec.template.spec.containers[name="relay"].image`, as the API server names fields in conflicts. */
export function readable(path: string): string {
  return segments(path)
    .map((part) => {
      if (part.startsWith(KEY)) {
        const key = JSON.parse(part.slice(KEY.length)) as JsonObject;
        return '[' + Object.entries(key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',') + ']';
      }
      if (part.startsWith(VALUE)) return `[${part.slice(VALUE.length)}]`;
      return '.' + part;
    })
    .join('');
}
