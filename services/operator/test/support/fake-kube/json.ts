/** Plain-JSON helpers of the fake API server: objects are stored and compared as JSON, never as class instances. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/** JSON pointer segments, e.g. "/spec/replicas" -> ["spec", "replicas"]. */
export function segments(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function pointer(parts: readonly string[]): string {
  return parts.map((p) => '/' + p.replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

export function getAt(root: Json, path: string): Json | undefined {
  let node: Json | undefined = root;
  for (const part of segments(path)) {
    if (Array.isArray(node)) node = node[Number(part)];
    else if (isObject(node)) node = node[part];
    else return undefined;
  }
  return node;
}

export function setAt(root: JsonObject, path: string, value: Json): void {
  const parts = segments(path);
  let node: JsonObject = root;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (!isObject(next)) node[part] = {};
    node = node[part] as JsonObject;
  }
  const last = parts[parts.length - 1];
  if (last !== undefined) node[last] = clone(value);
}

/** Removes the leaf and any parent objects it leaves empty (apply does not keep `{}` husks of removed fields). */
export function deleteAt(root: JsonObject, path: string): void {
  const parts = segments(path);
  const trail: JsonObject[] = [root];
  for (const part of parts.slice(0, -1)) {
    const next = trail[trail.length - 1]?.[part];
    if (!isObject(next)) return;
    trail.push(next);
  }
  for (let i = parts.length - 1; i >= 0; i--) {
    const holder = trail[i];
    const key = parts[i];
    if (!holder || key === undefined) return;
    if (i === parts.length - 1) delete holder[key];
    else if (isObject(holder[key]) && Object.keys(holder[key] as JsonObject).length === 0) delete holder[key];
    else return;
  }
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

export class JsonPatchError extends Error {}

/** RFC 6902 JSON patch (add, remove, replace, test): what client-node sends when no content type is chosen. */
export function jsonPatch(target: JsonObject, ops: unknown): JsonObject {
  if (!Array.isArray(ops)) throw new JsonPatchError('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  const doc = clone(target);
  for (const op of ops as Array<{ op?: string; path?: string; value?: Json }>) {
    const path = op.path ?? '';
    if (op.op === 'test') {
      if (!deepEqual(getAt(doc, path), op.value)) throw new JsonPatchError(`testing value ${path} failed`);
    } else if (op.op === 'remove') {
      if (getAt(doc, path) === undefined) throw new JsonPatchError(`unable to remove nonexistent key: ${path}`);
      deleteAt(doc, path);
    } else if (op.op === 'add' || op.op === 'replace') {
      if (op.op === 'replace' && getAt(doc, path) === undefined) {
        throw new JsonPatchError(`replace operation does not apply: doc is missing key: ${path}`);
      }
      setAt(doc, path, op.value ?? null);
    } else {
      throw new JsonPatchError(`unsupported json patch operation ${String(op.op)}`);
    }
  }
  return doc;
}
