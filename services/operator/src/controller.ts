import type { Logger } from 'pino';
import { KIND } from './api/group';
import type { OutboxRelayResource } from './api/types';
import { AdminSecretError, AdminTokens, type RelayAdminToken } from './admin-tokens';
import { httpStatusOf, messageOf } from './errors';
import { withDefaults } from './api/defaults';
import type { KubeConfig, KubernetesObject, V1Deployment, V1Job, V1NetworkPolicy, V1Pod, V1Secret } from './kube/client-node';
import { EventRecorder } from './kube/event-recorder';
import { KubeClient, type RelayCluster } from './kube/kube-client';
import { ResilientInformer } from './kube/resilient-informer';
import { deploymentSource, networkPolicySource, partitionJobSource, podSource, relaySource, secretSource, type WatchSource } from './kube/sources';
import type { OperatorMetrics } from './metrics';
import { observe } from './observe';
import { StepDownError, type PodProber } from './prober';
import { ADMIN_TOKEN_DIGEST_ANNOTATION } from './reconcile/admin-token';
import { reconcile as defaultReconcile } from './reconcile';
import { INSTANCE_LABEL, MANAGED_BY } from './reconcile/metadata';
import { referencedSecrets, relaysReading } from './reconcile/secrets';
import type { ObservedState, OperatorPods, ReconcileAction, ReconcileResult } from './reconcile/types';
import { sameJson } from './same-json';
import { WorkQueue } from './work-queue';

/** Another writer changed the relay between our read and our status write: look again (freshly read) soon. */
const STATUS_CONFLICT_RETRY_MS = 10;

export interface ControllerOptions {
  kubeConfig: KubeConfig;
  /** Undefined: every namespace. */
  namespace?: string;
  prober: PodProber;
  /** The relay image of an OutboxRelay without spec.image (the operator's RELAY_IMAGE). */
  relayImage: string;
  /** Every Kubernetes API request of the controller ends after this long at most. */
  apiTimeoutMs?: number;
  logger: Logger;
  metrics: OperatorMetrics;
  /** This replica's name, for Events' reportingInstance. */
  identity: string;
  /** Every relay is reconciled at least this often, events or not. */
  resyncMs: number;
  /** Informers rebuild their caches from a fresh list this often. */
  relistMs: number;
  workers: number;
  /** The operator's own pods, which a relay's NetworkPolicy lets in; undefined: no NetworkPolicy is made. */
  operatorPods?: OperatorPods;
  retry: { minMs: number; maxMs: number };
  informerBackoff: { minMs: number; maxMs: number };
  /** Seams for tests. */
  cluster?: RelayCluster;
  reconcile?: (observed: ObservedState) => ReconcileResult;
  now?: () => Date;
}

/**
 * The OutboxRelay controller: informers on relays, their Deployments and their pods feed one work queue keyed by
 * relay; each key's sync observes (fresh relay, cached Deployment and pods, pod probes), calls the pure
 * reconcile(), then applies the objects, the status, the actions and the events it returns, and requeues when
 * reconcile asks. Level-triggered: a sync never depends on what changed, only on what is.
 */
export class OutboxRelayController {
  private readonly relays: ResilientInformer<OutboxRelayResource>;
  private readonly deployments: ResilientInformer<V1Deployment>;
  private readonly pods: ResilientInformer<V1Pod>;
  private readonly networkPolicies: ResilientInformer<V1NetworkPolicy>;
  private readonly partitionJobs: ResilientInformer<V1Job>;
  private readonly adminTokens: AdminTokens;
  private readonly secrets: ResilientInformer<V1Secret>;
  private readonly queue: WorkQueue;
  private readonly cluster: RelayCluster;
  private readonly recorder: EventRecorder;
  private readonly reconcile: (observed: ObservedState) => ReconcileResult;
  private readonly now: () => Date;
  private resyncTimer: NodeJS.Timeout | undefined;
  private ready = false;
  private stopped = false;

  constructor(private readonly options: ControllerOptions) {
    const { kubeConfig, namespace, logger } = options;
    const timeoutMs = options.apiTimeoutMs;
    this.cluster = options.cluster ?? new KubeClient(kubeConfig, timeoutMs === undefined ? {} : { timeoutMs });
    this.reconcile = options.reconcile ?? defaultReconcile;
    this.now = options.now ?? (() => new Date());
    this.recorder = new EventRecorder(this.cluster, { component: MANAGED_BY, instance: options.identity, dedupeMs: 10 * 60_000, logger });
    this.relays = this.informer(relaySource(kubeConfig, namespace, timeoutMs));
    this.deployments = this.informer(deploymentSource(kubeConfig, namespace, timeoutMs));
    this.pods = this.informer(podSource(kubeConfig, namespace, timeoutMs));
    this.networkPolicies = this.informer(networkPolicySource(kubeConfig, namespace, timeoutMs));
    this.partitionJobs = this.informer(partitionJobSource(kubeConfig, namespace, timeoutMs));
    this.secrets = this.informer(secretSource(kubeConfig, namespace, timeoutMs));
    this.adminTokens = new AdminTokens(this.secrets, this.cluster);
    // Events that arrive before every cache is filled are dropped: start() enqueues every relay once they are.
    this.relays.on((_type, relay) => this.enqueue(relay.metadata?.namespace, relay.metadata?.name));
    this.deployments.on((_type, d) => this.enqueue(d.metadata?.namespace, ownerRelay(d)));
    this.pods.on((_type, pod) => this.enqueue(pod.metadata?.namespace, pod.metadata?.labels?.[INSTANCE_LABEL]));
    this.networkPolicies.on((_type, policy) => this.enqueue(policy.metadata?.namespace, ownerRelay(policy)));
    // A partition-count Job that finishes, fails or is deleted (to try again) is acted on at once.
    this.partitionJobs.on((_type, job) => this.enqueue(job.metadata?.namespace, ownerRelay(job)));
    this.secrets.on((_type, secret) => {
      this.enqueueReaders(secret);
      // A relay's own admin Secret: deleted, it is made again at once; changed, the pods restart with its token.
      this.enqueue(secret.metadata?.namespace, ownerRelay(secret));
    });
    this.queue = new WorkQueue({
      process: (key) => this.sync(key),
      concurrency: options.workers,
      retry: options.retry,
      onDone: (_key, outcome, ms) => {
        options.metrics.reconciles.inc({ result: outcome });
        options.metrics.reconcileDuration.observe({ result: outcome }, ms / 1000);
        options.metrics.queueDepth.set(this.queue.length);
      },
      onError: (key, err, retryInMs) =>
        logger.error({ relay: key, err: messageOf(err), statusCode: httpStatusOf(err), retryInMs }, 'reconcile failed'),
    });
  }

  /** Starts the informers; resolves once their caches are filled and every relay is queued. */
  async start(): Promise<void> {
    const informers = [this.relays, this.deployments, this.pods, this.secrets, this.networkPolicies, this.partitionJobs];
    informers.forEach((i) => i.start());
    await Promise.all(informers.map((i) => i.whenSynced()));
    // Leadership can be lost while the caches fill; a stopped controller must not come to life afterwards.
    if (this.stopped) return;
    this.ready = true;
    this.enqueueAll();
    this.resyncTimer = setInterval(() => this.enqueueAll(), this.options.resyncMs);
    this.options.logger.info({ namespace: this.options.namespace ?? '(all)' }, 'controller started');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ready = false;
    clearInterval(this.resyncTimer);
    await this.queue.stop();
    await Promise.all([this.relays, this.deployments, this.pods, this.secrets, this.networkPolicies, this.partitionJobs].map((i) => i.stop()));
  }

  get isReady(): boolean {
    return this.ready;
  }

  private informer<T extends KubernetesObject>(source: WatchSource<T>): ResilientInformer<T> {
    const { kubeConfig, logger, metrics, relistMs, informerBackoff } = this.options;
    return new ResilientInformer<T>({
      kubeConfig,
      source,
      logger,
      backoff: informerBackoff,
      relistMs,
      onRestart: (reason) => metrics.informerRestarts.inc({ informer: source.name, reason }),
    });
  }

  private enqueue(namespace: string | undefined, name: string | undefined): void {
    if (!this.ready || !namespace || !name) return;
    this.queue.add(`${namespace}/${name}`);
    this.options.metrics.queueDepth.set(this.queue.length);
  }

  private enqueueReaders(secret: V1Secret): void {
    const namespace = secret.metadata?.namespace;
    for (const relay of relaysReading(namespace, secret.metadata?.name, this.relays.list(namespace))) this.enqueue(namespace, relay);
  }

  private enqueueAll(): void {
    for (const relay of this.relays.list()) this.enqueue(relay.metadata?.namespace, relay.metadata?.name);
  }

  /** One reconcile of one relay; returns when to look again. */
  private async sync(key: string): Promise<number | undefined> {
    const [namespace = '', name = ''] = key.split('/');
    // Read fresh, not from the cache: the cache may not yet hold our own last status write, and a decision such
    // as a failover must see lastFailoverTime as written.
    const relay = await this.cluster.getRelay(namespace, name);
    if (!relay) {
      this.queue.forget(key);
      return undefined;
    }
    const log = this.options.logger.child({ relay: key, generation: relay.metadata?.generation });
    const deployment = this.deployments.get(name, namespace);
    const pods = this.pods.list(namespace).filter((p) => p.metadata?.labels?.[INSTANCE_LABEL] === name);
    const owned = deployment && ownerRelayUid(deployment) === relay.metadata?.uid ? deployment : undefined;
    const adminToken = await this.adminToken(relay, log);
    // Without a usable token, the pods keep the one they run with: a Secret broken by hand restarts nothing.
    const adminTokenDigest = adminToken?.digest ?? owned?.spec?.template.metadata?.annotations?.[ADMIN_TOKEN_DIGEST_ANNOTATION];
    const policy = this.networkPolicies.get(name, namespace);
    const partitionJobs = this.partitionJobs.list(namespace).filter((j) => ownerRelayUid(j) === relay.metadata?.uid);
    const secretNames = new Set(referencedSecrets(withDefaults(relay.spec)).map((ref) => ref.name));
    const secrets = [...secretNames].flatMap((secret) => this.secrets.get(secret, namespace) ?? []);
    const observed: ObservedState = {
      ...(await observe({
        relay,
        ...(owned ? { deployment: owned } : {}),
        pods,
        partitionJobs,
        secrets,
        defaultImage: this.options.relayImage,
        prober: this.options.prober,
        now: this.now,
      })),
      ...(adminTokenDigest ? { adminTokenDigest } : {}),
      ...(this.options.operatorPods ? { operatorPods: this.options.operatorPods } : {}),
      networkPolicyExists: !!policy && ownerRelayUid(policy) === relay.metadata?.uid,
    };
    const result = this.reconcile(observed);

    for (const object of result.objects) await this.cluster.apply(object);
    for (const ref of result.deletions ?? []) {
      if (await this.cluster.deleteObject(ref)) log.info({ kind: ref.kind, name: ref.name }, 'deleted a child the spec no longer wants');
    }
    // Status before actions, and only on top of the version the decisions were made on: a failover's
    // lastFailoverTime is on record before the pod is touched (a retry after a crash sees it), and of two operators
    // that overlap and decide alike, only the first write succeeds; the other sees a conflict and acts on nothing.
    if (!sameJson(result.status, relay.status ?? {})) {
      const written = await this.cluster.replaceRelayStatus(relay, result.status);
      if (!written) {
        this.options.metrics.statusConflicts.inc();
        log.debug({ actions: result.actions.length }, 'the relay changed since it was read; reconciling again, no action taken');
        return STATUS_CONFLICT_RETRY_MS;
      }
    } else if (result.actions.some((a) => a.kind === 'EvictPod')) {
      // Never act without having recorded it (reconcile always records a failover, so this is a bug guard).
      log.error({ actions: result.actions }, 'a failover decided without a status change to record it; not acting');
      return result.requeueAfterMs;
    }
    for (const action of result.actions) await this.execute(relay, action, observed, result, adminToken, log);
    for (const change of result.podAnnotations) await this.cluster.annotatePod(namespace, change.pod, change.annotations);
    for (const event of result.events) {
      if (await this.recorder.record(relay, event)) this.options.metrics.events.inc({ type: event.type, reason: event.reason });
    }
    log.debug({ objects: result.objects.length, actions: result.actions.length, requeueAfterMs: result.requeueAfterMs }, 'reconciled');
    return result.requeueAfterMs;
  }

  /**
   * The relay's admin token, its Secret created if missing. Not for a relay being deleted or paused (nothing is
   * made for those). A Secret that cannot be used is reported (a log line, a Warning Event) and reconcile goes on
   * without it: step-downs fail until it is deleted, failovers do not need it.
   */
  private async adminToken(relay: OutboxRelayResource, log: Logger): Promise<RelayAdminToken | undefined> {
    if (relay.metadata?.deletionTimestamp || relay.spec?.paused === true) return undefined;
    try {
      return await this.adminTokens.ensure(relay);
    } catch (err) {
      if (!(err instanceof AdminSecretError)) throw err;
      log.error({ secret: err.secret, err: err.message }, 'the admin Secret cannot be used');
      await this.recorder.record(relay, { type: 'Warning', reason: 'AdminSecretInvalid', message: err.message });
      return undefined;
    }
  }

  private async execute(
    relay: OutboxRelayResource,
    action: ReconcileAction,
    observed: ObservedState,
    result: ReconcileResult,
    adminToken: RelayAdminToken | undefined,
    log: Logger,
  ): Promise<void> {
    if (action.kind === 'StartPartitionChange') {
      // A server-side apply of a name derived from the Jobs already there: two operators that overlap create one.
      await this.cluster.apply(action.job);
      log.warn({ job: action.job.metadata?.name, reason: action.reason }, 'started a partition count change');
      this.options.metrics.actions.inc({ kind: action.kind, outcome: 'done' });
      return;
    }
    const pod = observed.pods.find((p) => p.name === action.pod);
    const fields = { pod: action.pod, action: action.kind, reason: action.reason, epoch: result.status.leaderEpoch };
    const count = (outcome: string) => this.options.metrics.actions.inc({ kind: action.kind, outcome });
    if (action.kind === 'StepDown') {
      if (!pod?.ip) {
        log.warn(fields, 'step-down skipped: the pod has no IP');
        return count('skipped');
      }
      try {
        if (!adminToken) throw new StepDownError(pod.name, undefined, 'no usable admin token (see the AdminSecretInvalid event)');
        await this.options.prober.stepDown({ name: pod.name, ip: pod.ip }, adminToken.token);
        log.warn(fields, 'asked the leader to step down');
        return count('done');
      } catch (err) {
        // Not retried here: the next reconcile asks again while the switchover is still wanted.
        log.error({ ...fields, err: messageOf(err) }, 'step-down failed');
        count('failed');
        await this.recorder.record(relay, { type: 'Warning', reason: 'StepDownFailed', message: `${action.pod}: ${messageOf(err)}` });
        return;
      }
    }
    const outcome = await this.cluster.evictPod(relay.metadata?.namespace ?? 'default', action.pod, action.uid);
    if (outcome.kind === 'blocked') {
      // The budget says not now (another relay pod is already down): lastFailoverTime is on record, so the next
      // attempt comes after the quiet period, if the leader still makes no progress then.
      log.warn({ ...fields, refusal: outcome.message }, 'eviction of the leader refused by its PodDisruptionBudget; retrying after the quiet period');
      count('blocked');
      await this.recorder.record(relay, { type: 'Warning', reason: 'EvictionBlocked', message: `${action.pod}: ${outcome.message}` });
      return;
    }
    log.warn(fields, outcome.kind === 'evicted' ? 'evicted the leader pod' : 'leader pod already gone');
    count(outcome.kind === 'evicted' ? 'done' : 'gone');
  }
}

/** The relay that controls a child (Deployment, Secret, NetworkPolicy), from its controller owner reference. */
function ownerRelay(d: KubernetesObject): string | undefined {
  return d.metadata?.ownerReferences?.find((o) => o.controller && o.kind === KIND)?.name;
}

function ownerRelayUid(d: KubernetesObject): string | undefined {
  return d.metadata?.ownerReferences?.find((o) => o.controller && o.kind === KIND)?.uid;
}
