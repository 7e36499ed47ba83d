import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { applyNonApplyPatch, parseApplyBody, parseJson, readBody } from './fake-kube/bodies';
import { clone, type JsonObject } from './fake-kube/json';
import { Admission, type FieldValidation } from './fake-kube/admission';
import { managedBy, serverSideApply, trackUpdate } from './fake-kube/ownership';
import { disruptionStatus, evictPod } from './fake-kube/eviction';
import { RequestHold } from './fake-kube/holds';
import { apiVersionOf, BUILTIN_RESOURCES, resourcesFromCrd, type CrdLike, type ResourceType } from './fake-kube/resources';
import { classify, discovery, resolveTarget, type Target } from './fake-kube/routing';
import { scaled, scaleOf } from './fake-kube/scale';
import { WatchStreams } from './fake-kube/watches';
import { parseFieldSelector, parseLabelSelector, SelectorError } from './fake-kube/selectors';
import { notFound, ObjectStore, StatusError, type DeleteOptions, type StoredObject, type WriteScope } from './fake-kube/store';

export type { JsonObject } from './fake-kube/json';
export type { RequestHold } from './fake-kube/holds';
export type { DeleteOptions } from './fake-kube/store';

/** A delay added to every matching request before it is answered (`slowRequests`). */
export interface RequestDelay {
  readonly delayMs: number;
  /** Requests delayed so far. */
  delayed: number;
  stop(): void;
}

/** One request as the fake saw it, with the RBAC verb it needs (tests assert on these). */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  status: number;
  /** Set when a server-side apply created the object (the API server then also requires `create`). */
  applyCreated?: boolean;
  /** Held by a RequestHold and abandoned by the client before any answer (status stays 0). */
  abandoned?: boolean;
  /** The request body as sent (writes only). */
  body?: string;
}

interface Fault {
  remaining: number;
  status: number;
  match: (req: RecordedRequest) => boolean;
}

/**
 * An in-process stand-in for the Kubernetes API server, spoken to over HTTP by the real @kubernetes/client-node:
 * discovery, list and watch with resourceVersions (410 Gone once compacted, BOOKMARKs on request, watches the
 * server ends), get, create, update with optimistic concurrency, server-side apply (lists merged by their keys,
 * field ownership per list item), merge and JSON patch, delete (pods Terminating for their grace period, finalizers
 * honoured) with owner-reference garbage collection, the status and scale subresources, pod eviction that honours
 * PodDisruptionBudgets, and admission (custom resources defaulted and validated against their CRD schema and CEL
 * rules; the built-ins' immutable fields). There are no controllers: tests play the kubelet (`finishTermination`),
 * the Deployment controller and the disruption controller (`updateDisruptionBudgets`). Requests can be made to
 * hang (`holdRequests`), slow down (`slowRequests`) or fail (`failNext`).
 */
export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  /** How an expired resourceVersion is reported to a watch: an ERROR event in a 200 stream (as the real server
   * does) or a plain 410 response. */
  get watchExpiry(): 'event' | 'status' {
    return this.watches.expiry;
  }

  set watchExpiry(how: 'event' | 'status') {
    this.watches.expiry = how;
  }
  private readonly store = new ObjectStore();
  private readonly resources: ResourceType[];
  private readonly watches: WatchStreams;
  private faults: Fault[] = [];
  private holds: RequestHold[] = [];
  private delays: Array<RequestDelay & { match: (req: RecordedRequest) => boolean; active: boolean }> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly admission: Admission;

  private constructor(
    private readonly server: http.Server,
    crds: CrdLike[],
  ) {
    this.resources = [...BUILTIN_RESOURCES, ...crds.flatMap(resourcesFromCrd)];
    this.admission = new Admission(this.resources);
    this.watches = new WatchStreams(this.store);
    server.on('request', (req, res) => void this.handle(req, res));
  }

  static async start(options: { crds?: CrdLike[] } = {}): Promise<FakeKubeApi> {
    const server = http.createServer();
    const api = new FakeKubeApi(server, options.crds ?? []);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return api;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.store.onTerminating = undefined;
    this.watches.closeAll();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- test controls: what other actors (users, kubelet, controllers, the network) do ----

  /** Creates an object as another client would (e.g. a user, or the Deployment controller making pods). */
  create(object: JsonObject, manager = 'test', options: { admission?: boolean } = {}): JsonObject {
    const r = this.resourceFor(object);
    const meta = (object.metadata ?? {}) as { name?: string; namespace?: string };
    const ns = r.namespaced ? meta.namespace ?? 'default' : undefined;
    if (this.store.read(r, ns, meta.name ?? '')) throw new StatusError(409, 'AlreadyExists', `${r.plural} "${meta.name}" already exists`);
    return this.commit(r, ns, meta.name ?? '', trackUpdate(undefined, clone(object), manager, 'main', r), 'main', options.admission === false ? 'none' : 'Ignore');
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): JsonObject | undefined {
    return this.store.read(this.resourceOf(apiVersion, kind), namespace, name)?.object;
  }

  list(apiVersion: string, kind: string, namespace?: string): JsonObject[] {
    const r = this.resourceOf(apiVersion, kind);
    return this.store.list({ resource: r, ...(namespace ? { namespace } : {}), labels: () => true, fields: () => true });
  }

  /** Changes an object in place, e.g. a pod's Ready condition (scope 'status') or a spec field a user edits. */
  update(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    change: (object: JsonObject) => void,
    options: { scope?: WriteScope; manager?: string; admission?: boolean } = {},
  ): JsonObject {
    const r = this.resourceOf(apiVersion, kind);
    const current = this.store.read(r, namespace, name);
    if (!current) throw notFound(r, name);
    const next = clone(current.object);
    change(next);
    const scope = options.scope ?? 'main';
    return this.commit(r, namespace, name, trackUpdate(current, next, options.manager ?? 'test', scope, r), scope, options.admission === false ? 'none' : 'Ignore');
  }

  /**
   * Deletes as a client would: a running pod is left Terminating (see `finishTermination`), an object with
   * finalizers waits for them; anything else goes at once.
   */
  delete(apiVersion: string, kind: string, namespace: string | undefined, name: string, options: DeleteOptions = {}): JsonObject {
    return this.store.delete(this.resourceOf(apiVersion, kind), namespace, name, options);
  }

  /** Plays the kubelet once a Terminating pod's containers have stopped: the pod object goes (DELETED). */
  finishTermination(namespace: string, name: string): void {
    const r = this.resourceOf('v1', 'Pod');
    const pod = this.store.read(r, namespace, name);
    if (!pod) throw notFound(r, name);
    if (!(pod.object.metadata as JsonObject).deletionTimestamp) throw new Error(`pod ${namespace}/${name} is not terminating`);
    this.store.delete(r, namespace, name, { gracePeriodSeconds: 0 });
  }

  /**
   * From now on the kubelet ends each Terminating pod by itself once its grace period has passed, counting
   * `msPerSecond` per second of grace (1000: real time; less to keep a test short). Pods already Terminating are
   * not affected.
   */
  finishTerminationsAfterGracePeriod(msPerSecond = 1000): void {
    this.store.onTerminating = (r, object) => {
      if (!r.graceful) return;
      const meta = object.metadata as { namespace: string; name: string; uid: string; deletionGracePeriodSeconds?: number };
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        const now = this.store.read(r, meta.namespace, meta.name);
        if (now && (now.object.metadata as JsonObject).uid === meta.uid) this.store.delete(r, meta.namespace, meta.name, { gracePeriodSeconds: 0 });
      }, (meta.deletionGracePeriodSeconds ?? 0) * msPerSecond);
      this.timers.add(timer);
    };
  }

  /** managedFields in short: each field manager and the field paths it owns (list items by key: `k:{"name":"x"}`). */
  managedFields(apiVersion: string, kind: string, namespace: string | undefined, name: string): Record<string, string[]> {
    const r = this.resourceOf(apiVersion, kind);
    const stored = this.store.read(r, namespace, name);
    if (!stored) throw notFound(r, name);
    return managedBy(stored.owners);
  }

  /** Ends every open watch: abruptly (connection reset, as a network failure) or cleanly (as a server timeout). */
  dropWatches(how: 'reset' | 'close' = 'reset'): number {
    return this.watches.drop(how);
  }

  /**
   * Ends every open watch cleanly, as the API server does when a watch reaches its timeout (minutes) or when the
   * server restarts: clients resume from the last resourceVersion they saw.
   */
  closeWatches(): number {
    return this.dropWatches('close');
  }

  /**
   * Sends a BOOKMARK with the current resourceVersion on every watch whose client asked for them
   * (allowWatchBookmarks=true), as the API server does about once a minute. Returns how many got one.
   */
  sendBookmarks(): number {
    return this.watches.bookmark();
  }

  /**
   * Every matching request waits `delayMs` before the fake handles it: a slow (overloaded, far away) API server.
   * A client that gives up during the delay leaves the request unhandled, as when the server drops a request whose
   * context was cancelled.
   */
  slowRequests(match: (req: RecordedRequest) => boolean, delayMs: number): RequestDelay {
    const delay = {
      delayMs,
      delayed: 0,
      match,
      active: true,
      stop: () => {
        delay.active = false;
      },
    };
    this.delays.push(delay);
    return delay;
  }

  /** Open watches stay open but deliver nothing more: a half-open connection, which no error reveals. */
  muteWatches(): number {
    return this.watches.mute();
  }

  /** The next `count` requests that match fail with `status` (default: every request, 500). */
  failNext(count: number, options: { status?: number; match?: (req: RecordedRequest) => boolean } = {}): void {
    this.faults.push({ remaining: count, status: options.status ?? 500, match: options.match ?? (() => true) });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /**
   * Matching requests (at most `limit` of them) are taken in but not answered until the hold is released: what a
   * hung API server or a half-open connection looks like to the client.
   */
  holdRequests(match: (req: RecordedRequest) => boolean, options: { limit?: number } = {}): RequestHold {
    const hold = new RequestHold(match as (r: unknown) => boolean, options.limit);
    this.holds.push(hold);
    return hold;
  }

  /** Plays the disruption controller: every PodDisruptionBudget's status computed from the pods it selects now. */
  updateDisruptionBudgets(namespace?: string): void {
    for (const pdb of this.list('policy/v1', 'PodDisruptionBudget', namespace)) {
      const meta = pdb.metadata as { name: string; namespace: string };
      const status = disruptionStatus(pdb, this.list('v1', 'Pod', meta.namespace));
      this.update('policy/v1', 'PodDisruptionBudget', meta.namespace, meta.name, (o) => (o.status = status), {
        scope: 'status',
        manager: 'disruption-controller',
      });
    }
  }

  /** Forgets history, so any watch resuming from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.store.compact();
  }

  /** The store's current resourceVersion (what a list would report now). */
  resourceVersion(): string {
    return this.store.resourceVersion();
  }

  activeWatches(): number {
    return this.watches.size;
  }

  // ---- HTTP ----

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
      verb: 'get',
      group: '',
      resource: '',
      status: 0,
    };
    this.requests.push(record);
    const send = (status: number, body: unknown) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      const text = await readBody(req);
      if (text) record.body = text;
      const found = discovery(url.pathname, this.resources);
      if (found) return send(200, found);
      const target = resolveTarget(url.pathname, this.resources);
      Object.assign(record, classify(record.method, target, query));
      const fault = this.faults.find((f) => f.remaining > 0 && f.match(record));
      if (fault) {
        fault.remaining--;
        throw new StatusError(fault.status, fault.status === 503 ? 'ServiceUnavailable' : 'InternalError', 'injected fault');
      }
      const hold = this.holds.find((h) => h.takes(record));
      if (hold && (await hold.hold(res)) === 'abandoned') {
        record.abandoned = true;
        return;
      }
      const delayMs = this.delays.filter((d) => d.active && d.match(record)).reduce((sum, d) => sum + (d.delayed++, d.delayMs), 0);
      if (delayMs > 0 && (await this.wait(delayMs, res)) === 'abandoned') {
        record.abandoned = true;
        return;
      }
      if (record.verb === 'watch') {
        record.status = this.watches.serve(target.resource, this.filter(target, query), query, req, res);
        return;
      }
      const result = this.dispatch(record, target, query, text, req.headers['content-type'] ?? '');
      send(result.status, result.body);
    } catch (err) {
      const status = toStatusError(err);
      send(status.code, status.toStatus());
    }
  }

  /** Waits, unless the client closes the connection first. */
  private wait(ms: number, res: http.ServerResponse): Promise<'waited' | 'abandoned'> {
    return new Promise((resolve) => {
      const gone = () => {
        clearTimeout(timer);
        this.timers.delete(timer);
        resolve('abandoned');
      };
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        res.off('close', gone);
        resolve('waited');
      }, ms);
      this.timers.add(timer);
      res.once('close', gone);
    });
  }

  /** Stores through admission: 'none' only for test controls that set up what a real server would refuse. */
  private commit(r: ResourceType, namespace: string | undefined, name: string, next: StoredObject, scope: WriteScope, validation: FieldValidation | 'none') {
    const admit = validation === 'none' ? undefined : (object: JsonObject, old: JsonObject | undefined) => this.admission.admit(r, name, object, old, validation);
    return this.store.commit(r, namespace, name, next, scope, admit);
  }

  private dispatch(
    record: RecordedRequest,
    t: Target,
    query: Record<string, string>,
    text: string,
    contentType: string,
  ): { status: number; body: unknown } {
    const r = t.resource;
    const manager = query.fieldManager ?? 'unknown';
    const validation: FieldValidation = query.fieldValidation === 'Strict' ? 'Strict' : 'Ignore';
    if (record.verb === 'list') return { status: 200, body: this.listBody(t, query) };
    if (t.subresource === 'eviction') {
      if (record.verb !== 'create') throw new StatusError(405, 'MethodNotAllowed', 'the eviction subresource only accepts POST');
      const resources = { pods: r, pdbs: this.resourceOf('policy/v1', 'PodDisruptionBudget') };
      return evictPod(this.store, resources, t.namespace ?? 'default', t.name!, parseJson(text));
    }
    if (record.verb === 'create') {
      const body = parseJson(text);
      const meta = (body.metadata ?? {}) as { name?: string; generateName?: string; namespace?: string };
      if (t.namespace && meta.namespace && meta.namespace !== t.namespace) {
        throw new StatusError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
      }
      const name = meta.name ?? (meta.generateName ? meta.generateName + Math.random().toString(36).slice(2, 7) : '');
      if (!name) throw new StatusError(422, 'Invalid', `${r.kind} is invalid: metadata.name: Required value: name or generateName is required`);
      if (this.store.read(r, t.namespace, name)) {
        throw new StatusError(409, 'AlreadyExists', `${r.plural} "${name}" already exists`, { name, kind: r.plural });
      }
      const created = this.commit(r, t.namespace, name, trackUpdate(undefined, body, manager, 'main', r), 'main', validation);
      return { status: 201, body: created };
    }
    const name = t.name!;
    const current = this.store.read(r, t.namespace, name);
    if (record.verb === 'delete') {
      const options = text ? parseJson(text) : {};
      const uid = (options.preconditions as { uid?: string } | undefined)?.uid;
      const grace = options.gracePeriodSeconds ?? (query.gracePeriodSeconds === undefined ? undefined : Number(query.gracePeriodSeconds));
      return { status: 200, body: this.store.delete(r, t.namespace, name, { ...(uid ? { uid } : {}), ...(typeof grace === 'number' ? { gracePeriodSeconds: grace } : {}) }) };
    }
    if (t.subresource === 'scale') {
      if (!current) throw notFound(r, name);
      if (record.verb === 'get') return { status: 200, body: scaleOf(r, current.object) };
      const next = scaled(r, current.object, record.verb, contentType, parseJson(text));
      const stored = this.commit(r, t.namespace, name, trackUpdate(current, next, manager, 'main', r), 'main', validation);
      return { status: 200, body: scaleOf(r, stored) };
    }
    const scope: WriteScope = t.subresource === 'status' ? 'status' : 'main';
    if (record.verb === 'get') {
      if (!current) throw notFound(r, name);
      return { status: 200, body: current.object };
    }
    if (record.verb === 'update') {
      if (!current) throw notFound(r, name);
      const body = parseJson(text);
      const rv = (body.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
      if (rv && rv !== (current.object.metadata as { resourceVersion?: string }).resourceVersion) {
        throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${r.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
      }
      const uid = (body.metadata as { uid?: string } | undefined)?.uid;
      const storedUid = (current.object.metadata as { uid?: string }).uid;
      if (uid && uid !== storedUid) {
        throw new StatusError(409, 'Conflict', `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${storedUid}`);
      }
      return { status: 200, body: this.commit(r, t.namespace, name, trackUpdate(current, body, manager, scope, r), scope, validation) };
    }
    // PATCH
    const type = contentType.split(';')[0]!.trim();
    if (type === 'application/apply-patch+yaml') {
      if (!query.fieldManager) {
        throw new StatusError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
      }
      const body = parseApplyBody(text);
      if (body.apiVersion !== apiVersionOf(r) || body.kind !== r.kind) {
        throw new StatusError(400, 'BadRequest', `apply body must have apiVersion ${apiVersionOf(r)} and kind ${r.kind}, got ${String(body.apiVersion)} ${String(body.kind)}`);
      }
      const bodyName = (body.metadata as { name?: string } | undefined)?.name;
      if (bodyName !== undefined && bodyName !== name) throw new StatusError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
      if (!current && scope === 'status') throw notFound(r, name);
      const applied = serverSideApply(current, body, query.fieldManager, query.force === 'true', scope, r);
      record.applyCreated = !current;
      return { status: current ? 200 : 201, body: this.commit(r, t.namespace, name, applied, scope, validation) };
    }
    if (!current) throw notFound(r, name);
    const next = applyNonApplyPatch(r, current.object, type, text);
    return { status: 200, body: this.commit(r, t.namespace, name, trackUpdate(current, next, manager, scope, r), scope, validation) };
  }

  private listBody(t: Target, query: Record<string, string>): JsonObject {
    const items = this.store.list(this.filter(t, query)).map((o) => {
      if (t.resource.custom) return o;
      const { apiVersion: _a, kind: _k, ...rest } = o;
      return rest;
    });
    return {
      kind: `${t.resource.kind}List`,
      apiVersion: apiVersionOf(t.resource),
      metadata: { resourceVersion: this.store.resourceVersion() },
      items,
    };
  }

  private filter(t: Target, query: Record<string, string>) {
    try {
      return {
        resource: t.resource,
        ...(t.namespace ? { namespace: t.namespace } : {}),
        labels: parseLabelSelector(query.labelSelector),
        fields: parseFieldSelector(query.fieldSelector, t.resource.plural),
      };
    } catch (err) {
      if (err instanceof SelectorError) throw new StatusError(400, 'BadRequest', err.message);
      throw err;
    }
  }

  private resourceOf(apiVersion: string, kind: string): ResourceType {
    const r = this.resources.find((x) => apiVersionOf(x) === apiVersion && x.kind === kind);
    if (!r) throw new Error(`the fake does not serve ${apiVersion} ${kind}`);
    return r;
  }

  private resourceFor(object: JsonObject): ResourceType {
    return this.resourceOf(String(object.apiVersion), String(object.kind));
  }
}

function toStatusError(err: unknown): StatusError {
  if (err instanceof StatusError) return err;
  return new StatusError(500, 'InternalError', `fake API server error: ${(err as Error)?.stack ?? String(err)}`);
}
