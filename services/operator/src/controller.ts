import type { Logger } from 'pino';
import { KIND } from './api/group';
import type { OutboxRelayResource } from './api/types';
import { httpStatusOf, messageOf } from './errors';
import { withDefaults } from './api/defaults';
import type { KubeConfig, KubernetesObject, V1Deployment, V1Pod, V1Secret } from './kube/client-node';
import { EventRecorder } from './kube/event-recorder';
import { KubeClient, type RelayCluster } from './kube/kube-client';
import { ResilientInformer } from './kube/resilient-informer';
import { deploymentSource, podSource, relaySource, secretSource, type WatchSource } from './kube/sources';
import type { OperatorMetrics } from './metrics';
import { observe } from './observe';
import type { PodProber } from './prober';
import { reconcile as defaultReconcile } from './reconcile';
import { MANAGED_BY } from './reconcile/metadata';
import { referencedSecrets, relaysReading } from './reconcile/secrets';
import type { ObservedState, ReconcileAction, ReconcileResult } from './reconcile/types';
import { sameJson } from './same-json';
import { WorkQueue } from './work-queue';

const INSTANCE_LABEL = 'app.kubernetes.io/instance';
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
    this.secrets = this.informer(secretSource(kubeConfig, namespace, timeoutMs));
    // Events that arrive before every cache is filled are dropped: start() enqueues every relay once they are.
    this.relays.on((_type, relay) => this.enqueue(relay.metadata?.namespace, relay.metadata?.name));
    this.deployments.on((_type, d) => this.enqueue(d.metadata?.namespace, ownerRelay(d)));
    this.pods.on((_type, pod) => this.enqueue(pod.metadata?.namespace, pod.metadata?.labels?.[INSTANCE_LABEL]));
    this.secrets.on((_type, secret) => this.enqueueReaders(secret));
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
    const informers = [this.relays, this.deployments, this.pods, this.secrets];
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
    await Promise.all([this.relays.stop(), this.deployments.stop(), this.pods.stop(), this.secrets.stop()]);
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
    const secretNames = new Set(referencedSecrets(withDefaults(relay.spec)).map((ref) => ref.name));
    const secrets = [...secretNames].flatMap((secret) => this.secrets.get(secret, namespace) ?? []);
    const observed = await observe({
      relay,
      ...(deployment && ownerRelayUid(deployment) === relay.metadata?.uid ? { deployment } : {}),
      pods,
      secrets,
      defaultImage: this.options.relayImage,
      prober: this.options.prober,
      now: this.now,
    });
    const result = this.reconcile(observed);

    for (const object of result.objects) await this.cluster.apply(object);
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
    for (const action of result.actions) await this.execute(relay, action, observed, result, log);
    for (const change of result.podAnnotations) await this.cluster.annotatePod(namespace, change.pod, change.annotations);
    for (const event of result.events) {
      if (await this.recorder.record(relay, event)) this.options.metrics.events.inc({ type: event.type, reason: event.reason });
    }
    log.debug({ objects: result.objects.length, actions: result.actions.length, requeueAfterMs: result.requeueAfterMs }, 'reconciled');
    return result.requeueAfterMs;
  }

  private async execute(relay: OutboxRelayResource, action: ReconcileAction, observed: ObservedState, result: ReconcileResult, log: Logger): Promise<void> {
    const pod = observed.pods.find((p) => p.name === action.pod);
    const fields = { pod: action.pod, action: action.kind, reason: action.reason, epoch: result.status.leaderEpoch };
    const count = (outcome: string) => this.options.metrics.actions.inc({ kind: action.kind, outcome });
    if (action.kind === 'StepDown') {
      if (!pod?.ip) {
        log.warn(fields, 'step-down skipped: the pod has no IP');
        return count('skipped');
      }
      try {
        await this.options.prober.stepDown({ name: pod.name, ip: pod.ip });
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

/** The relay that controls a Deployment, from its controller owner reference. */
function ownerRelay(d: V1Deployment): string | undefined {
  return d.metadata?.ownerReferences?.find((o) => o.controller && o.kind === KIND)?.name;
}

function ownerRelayUid(d: V1Deployment): string | undefined {
  return d.metadata?.ownerReferences?.find((o) => o.controller && o.kind === KIND)?.uid;
}
