import { randomUUID } from 'node:crypto';
import { clone, deepEqual, type JsonObject } from './json';
import type { LabelPredicate } from './selectors';
import { apiVersionOf, type ResourceType } from './resources';

/** An API error the fake answers with, as a metav1.Status. */
export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details: JsonObject = {},
  ) {
    super(message);
  }
  toStatus(): JsonObject {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      details: this.details,
      code: this.code,
    };
  }
}

export const notFound = (r: ResourceType, name: string) =>
  new StatusError(404, 'NotFound', `${r.plural}${r.group ? '.' + r.group : ''} "${name}" not found`, { name, kind: r.plural });

/** An object with who owns which leaf (JSON pointer -> field manager), which server-side apply needs. */
export interface StoredObject {
  object: JsonObject;
  owners: Map<string, string>;
}

export type WatchType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface LogEntry {
  rv: number;
  resource: ResourceType;
  type: WatchType;
  object: JsonObject;
  previous?: JsonObject;
}

export interface WatchFilter {
  resource: ResourceType;
  namespace?: string;
  labels: LabelPredicate;
  fields: (meta: { name?: string; namespace?: string }) => boolean;
}

type Sink = (type: WatchType, object: JsonObject) => void;

/** Which part of an object a write may change: the status subresource changes .status only. */
export type WriteScope = 'main' | 'status';

const meta = (o: JsonObject) => (o.metadata ?? {}) as JsonObject;
const labelsOf = (o: JsonObject) => meta(o).labels as Record<string, string> | undefined;

/**
 * Objects, one resourceVersion counter for all of them (like etcd's revision), an event log for watches that
 * resume from a resourceVersion, and compaction that makes old resourceVersions expire (410 Gone).
 */
export class ObjectStore {
  private revision = 1000;
  private compactedThrough = 0;
  private readonly objects = new Map<string, StoredObject & { resource: ResourceType }>();
  private log: LogEntry[] = [];
  private readonly sinks = new Set<{ filter: WatchFilter; sink: Sink }>();

  resourceVersion(): string {
    return String(this.revision);
  }

  private key(r: ResourceType, namespace: string | undefined, name: string): string {
    return `${apiVersionOf(r)}|${r.plural}|${r.namespaced ? namespace ?? '' : ''}|${name}`;
  }

  read(r: ResourceType, namespace: string | undefined, name: string): StoredObject | undefined {
    const stored = this.objects.get(this.key(r, namespace, name));
    return stored && { object: clone(stored.object), owners: new Map(stored.owners) };
  }

  list(filter: WatchFilter): JsonObject[] {
    return [...this.objects.values()]
      .filter((s) => this.matches(filter, s.resource, s.object))
      .map((s) => clone(s.object))
      .sort((a, b) => `${meta(a).namespace}/${meta(a).name}`.localeCompare(`${meta(b).namespace}/${meta(b).name}`));
  }

  /**
   * Stores `next` (a new object when nothing exists) the way the API server does: immutable metadata kept,
   * generation bumped only by changes outside metadata and status, and no new resourceVersion (and no watch
   * event) when nothing changed.
   */
  commit(r: ResourceType, namespace: string | undefined, name: string, next: StoredObject, scope: WriteScope): JsonObject {
    const key = this.key(r, namespace, name);
    const prev = this.objects.get(key);
    const object = clone(next.object);
    const m = meta(object);
    delete m.managedFields;
    m.name = name;
    if (r.namespaced) m.namespace = namespace ?? 'default';
    object.apiVersion = apiVersionOf(r);
    object.kind = r.kind;
    if (!prev) {
      m.uid = randomUUID();
      m.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      m.generation = 1;
      delete m.deletionTimestamp;
      const created = this.record(key, r, 'ADDED', { object, owners: next.owners });
      // The garbage collector removes a dependent whose owners are all gone (e.g. created in a race with the
      // owner's deletion).
      if (this.orphaned(object)) this.remove(r, namespace, name);
      return created;
    }
    const old = prev.object;
    for (const field of ['uid', 'creationTimestamp', 'generation', 'deletionTimestamp']) {
      if (meta(old)[field] === undefined) delete m[field];
      else m[field] = meta(old)[field]!;
    }
    let merged = object;
    if (scope === 'status') merged = { ...clone(old), status: object.status ?? {} };
    else if (r.status) merged = { ...object, ...(old.status === undefined ? {} : { status: clone(old.status) }) };
    if (scope === 'main' && r.status && old.status === undefined) delete merged.status;
    meta(merged).resourceVersion = meta(old).resourceVersion!;
    if (deepEqual(merged, old)) return clone(old);
    if (!deepEqual(specPart(merged), specPart(old))) meta(merged).generation = Number(meta(old).generation ?? 0) + 1;
    return this.record(key, r, 'MODIFIED', { object: merged, owners: next.owners }, old);
  }

  remove(r: ResourceType, namespace: string | undefined, name: string, uidPrecondition?: string): JsonObject {
    const key = this.key(r, namespace, name);
    const prev = this.objects.get(key);
    if (!prev) throw notFound(r, name);
    const uid = meta(prev.object).uid as string;
    if (uidPrecondition && uidPrecondition !== uid) {
      throw new StatusError(409, 'Conflict', `Precondition failed: UID in precondition: ${uidPrecondition}, UID in object meta: ${uid}`);
    }
    this.objects.delete(key);
    this.revision++;
    const object = clone(prev.object);
    meta(object).resourceVersion = String(this.revision);
    this.append({ rv: this.revision, resource: r, type: 'DELETED', object });
    this.collectGarbage(uid);
    return object;
  }

  private orphaned(object: JsonObject): boolean {
    const refs = (meta(object).ownerReferences ?? []) as Array<{ uid?: string }>;
    if (refs.length === 0) return false;
    const uids = new Set([...this.objects.values()].map((s) => meta(s.object).uid));
    return refs.every((ref) => !uids.has(ref.uid));
  }

  /** Background cascading deletion: dependents whose ownerReferences name the deleted uid go too. */
  private collectGarbage(ownerUid: string): void {
    for (const s of [...this.objects.values()]) {
      const refs = (meta(s.object).ownerReferences ?? []) as Array<{ uid?: string }>;
      if (refs.some((ref) => ref.uid === ownerUid) && this.objects.has(this.key(s.resource, meta(s.object).namespace as string, meta(s.object).name as string))) {
        this.remove(s.resource, meta(s.object).namespace as string, meta(s.object).name as string);
      }
    }
  }

  private record(key: string, r: ResourceType, type: WatchType, next: StoredObject, previous?: JsonObject): JsonObject {
    this.revision++;
    meta(next.object).resourceVersion = String(this.revision);
    this.objects.set(key, { resource: r, object: next.object, owners: new Map(next.owners) });
    this.append({ rv: this.revision, resource: r, type, object: clone(next.object), ...(previous ? { previous } : {}) });
    return clone(next.object);
  }

  private append(entry: LogEntry): void {
    this.log.push(entry);
    for (const { filter, sink } of this.sinks) this.deliver(filter, entry, sink);
  }

  private matches(filter: WatchFilter, r: ResourceType, object: JsonObject): boolean {
    if (r !== filter.resource) return false;
    const m = meta(object) as { name?: string; namespace?: string };
    if (filter.namespace !== undefined && m.namespace !== filter.namespace) return false;
    return filter.labels(labelsOf(object)) && filter.fields(m);
  }

  /** A modification that moves an object into or out of a selector reaches that watcher as ADDED or DELETED. */
  private deliver(filter: WatchFilter, entry: LogEntry, sink: Sink): void {
    const now = this.matches(filter, entry.resource, entry.object);
    if (entry.type !== 'MODIFIED') {
      if (now) sink(entry.type, clone(entry.object));
      return;
    }
    const before = entry.previous ? this.matches(filter, entry.resource, entry.previous) : false;
    if (now && before) sink('MODIFIED', clone(entry.object));
    else if (now) sink('ADDED', clone(entry.object));
    else if (before) sink('DELETED', clone(entry.object));
  }

  /**
   * Starts a watch. From "" or "0" it begins with ADDED for what exists; from a resourceVersion it replays the
   * log after it, or fails with 410 Gone when compaction removed that part of the log.
   */
  watch(filter: WatchFilter, since: string | undefined, sink: Sink): () => void {
    if (!since || since === '0') {
      for (const object of this.list(filter)) sink('ADDED', object);
    } else {
      const from = Number(since);
      if (!Number.isInteger(from)) throw new StatusError(400, 'BadRequest', `invalid resourceVersion ${since}`);
      if (from < this.compactedThrough) {
        throw new StatusError(410, 'Expired', `too old resource version: ${from} (${this.compactedThrough})`);
      }
      for (const entry of this.log) if (entry.rv > from) this.deliver(filter, entry, sink);
    }
    const handle = { filter, sink };
    this.sinks.add(handle);
    return () => this.sinks.delete(handle);
  }

  /** Forgets the event log: every resourceVersion older than now is too old to watch from. */
  compact(): void {
    this.compactedThrough = this.revision;
    this.log = [];
  }
}

/** The part of an object whose changes bump metadata.generation. */
function specPart(o: JsonObject): JsonObject {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
}
