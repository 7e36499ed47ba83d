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

/** Who owns which field: field path (list items by key, see field-set) -> the managers that own it. */
export type Owners = Map<string, Set<string>>;

export const copyOwners = (owners: Owners): Owners => new Map([...owners].map(([p, m]) => [p, new Set(m)]));

/** An object with who owns which field, which server-side apply needs. */
export interface StoredObject {
  object: JsonObject;
  owners: Owners;
}

/** DeleteOptions the fake honours. */
export interface DeleteOptions {
  uid?: string;
  gracePeriodSeconds?: number;
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
  fields: (object: JsonObject) => boolean;
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
    return stored && { object: clone(stored.object), owners: copyOwners(stored.owners) };
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
  commit(
    r: ResourceType,
    namespace: string | undefined,
    name: string,
    next: StoredObject,
    scope: WriteScope,
    admit?: (object: JsonObject, old: JsonObject | undefined) => JsonObject,
  ): JsonObject {
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
      const admitted = admit ? admit(object, undefined) : object;
      if (admitted !== object) {
        for (const k of Object.keys(object)) delete object[k];
        Object.assign(object, admitted);
      }
      m.uid = randomUUID();
      m.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      m.generation = 1;
      delete m.deletionTimestamp;
      delete m.deletionGracePeriodSeconds;
      const created = this.record(key, r, 'ADDED', { object, owners: next.owners });
      // The garbage collector removes a dependent whose owners are all gone (e.g. created in a race with the
      // owner's deletion).
      if (this.orphaned(object)) this.delete(r, namespace, name);
      return created;
    }
    const old = prev.object;
    for (const field of ['uid', 'creationTimestamp', 'generation', 'deletionTimestamp', 'deletionGracePeriodSeconds']) {
      if (meta(old)[field] === undefined) delete m[field];
      else m[field] = meta(old)[field]!;
    }
    let merged = object;
    if (scope === 'status') merged = { ...clone(old), status: object.status ?? {} };
    else if (r.status) merged = { ...object, ...(old.status === undefined ? {} : { status: clone(old.status) }) };
    if (scope === 'main' && r.status && old.status === undefined) delete merged.status;
    if (admit) merged = admit(merged, old);
    meta(merged).resourceVersion = meta(old).resourceVersion!;
    // Nothing changed, not even who owns what: no new resourceVersion, no event.
    if (deepEqual(merged, old) && sameOwners(next.owners, prev.owners)) return clone(old);
    if (meta(old).deletionTimestamp) {
      const added = finalizersOf(merged).filter((f) => !finalizersOf(old).includes(f));
      if (added.length > 0) {
        throw new StatusError(422, 'Invalid', `${r.kind} "${name}" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`, {
          name,
          kind: r.plural,
          causes: [{ reason: 'FieldValueForbidden', message: 'Forbidden: no new finalizers can be added if the object is being deleted', field: 'metadata.finalizers' }],
        });
      }
    }
    if (!deepEqual(specPart(merged), specPart(old))) meta(merged).generation = Number(meta(old).generation ?? 0) + 1;
    const stored = this.record(key, r, 'MODIFIED', { object: merged, owners: next.owners }, old);
    // The last finalizer removed from an object whose deletion waited only for finalizers: it goes now.
    if (meta(merged).deletionTimestamp && finalizersOf(merged).length === 0 && !Number(meta(merged).deletionGracePeriodSeconds ?? 0)) {
      return this.purge(key, r);
    }
    return stored;
  }

  /**
   * DELETE as the API server does it. A pod that is scheduled and still running is deleted gracefully: it gets
   * metadata.deletionTimestamp (now + grace period) and deletionGracePeriodSeconds (the request's
   * gracePeriodSeconds, else its spec.terminationGracePeriodSeconds, else 30), a MODIFIED event, and stays,
   * Terminating, until the kubelet confirms with a delete of grace 0 (`finishTermination`). An object with
   * finalizers stays, with a deletionTimestamp, until they are removed. Anything else goes at once (DELETED).
   * Deleting what is already being deleted changes nothing but may shorten the grace period.
   */
  delete(r: ResourceType, namespace: string | undefined, name: string, options: DeleteOptions = {}, now = new Date()): JsonObject {
    const key = this.key(r, namespace, name);
    const prev = this.objects.get(key);
    if (!prev) throw notFound(r, name);
    const m = meta(prev.object);
    const uid = m.uid as string;
    if (options.uid && options.uid !== uid) {
      throw new StatusError(409, 'Conflict', `Precondition failed: UID in precondition: ${options.uid}, UID in object meta: ${uid}`, { name, kind: r.plural });
    }
    const grace = gracePeriodOf(r, prev.object, options.gracePeriodSeconds);
    const finalizers = finalizersOf(prev.object);
    if (m.deletionTimestamp) {
      const remaining = Number(m.deletionGracePeriodSeconds ?? 0);
      if (grace >= remaining) return clone(prev.object);
      if (grace === 0 && finalizers.length === 0) return this.purge(key, r);
      return this.markDeleting(key, r, prev, grace, now);
    }
    if (grace > 0 || finalizers.length > 0) return this.markDeleting(key, r, prev, grace, now);
    return this.purge(key, r);
  }

  private markDeleting(key: string, r: ResourceType, prev: StoredObject, grace: number, now: Date): JsonObject {
    const object = clone(prev.object);
    const m = meta(object);
    m.deletionTimestamp = new Date(now.getTime() + grace * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    m.deletionGracePeriodSeconds = grace;
    // The registry bumps the generation when it sets a deletionTimestamp (rest.BeforeDelete).
    m.generation = Number(m.generation ?? 0) + 1;
    const marked = this.record(key, r, 'MODIFIED', { object, owners: prev.owners }, prev.object);
    this.onTerminating?.(r, marked);
    return marked;
  }

  /** Called when an object starts graceful deletion (the fake's kubelet may end it after the grace period). */
  onTerminating: ((r: ResourceType, object: JsonObject) => void) | undefined;

  private purge(key: string, r: ResourceType): JsonObject {
    const prev = this.objects.get(key)!;
    const uid = meta(prev.object).uid as string;
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
      const key = this.key(s.resource, meta(s.object).namespace as string, meta(s.object).name as string);
      if (refs.some((ref) => ref.uid === ownerUid) && this.objects.has(key) && !meta(this.objects.get(key)!.object).deletionTimestamp) {
        this.delete(s.resource, meta(s.object).namespace as string, meta(s.object).name as string);
      }
    }
  }

  private record(key: string, r: ResourceType, type: WatchType, next: StoredObject, previous?: JsonObject): JsonObject {
    this.revision++;
    meta(next.object).resourceVersion = String(this.revision);
    this.objects.set(key, { resource: r, object: next.object, owners: copyOwners(next.owners) });
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
    return filter.labels(labelsOf(object)) && filter.fields(object);
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

function sameOwners(a: Owners, b: Owners): boolean {
  if (a.size !== b.size) return false;
  for (const [p, managers] of a) {
    const other = b.get(p);
    if (!other || other.size !== managers.size || [...managers].some((m) => !other.has(m))) return false;
  }
  return true;
}

const finalizersOf = (o: JsonObject) => ((meta(o).finalizers ?? []) as string[]);

/**
 * The grace period a delete gets (pkg/registry/core/pod/strategy.go CheckGracefulDelete): only pods have one; a
 * pod never scheduled, or one that has finished, goes at once.
 */
function gracePeriodOf(r: ResourceType, object: JsonObject, requested: number | undefined): number {
  if (!r.graceful) return 0;
  const spec = (object.spec ?? {}) as { nodeName?: string; terminationGracePeriodSeconds?: number };
  const phase = (object.status as { phase?: string } | undefined)?.phase;
  if (!spec.nodeName || phase === 'Succeeded' || phase === 'Failed') return 0;
  return Math.max(0, requested ?? spec.terminationGracePeriodSeconds ?? 30);
}

/** The part of an object whose changes bump metadata.generation. */
function specPart(o: JsonObject): JsonObject {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
}
