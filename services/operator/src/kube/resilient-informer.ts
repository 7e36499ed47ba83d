import type { Logger } from 'pino';
import { Backoff } from '@outbox-relay/runtime';
import { httpStatusOf, messageOf } from '../errors';
import { k8s, type Informer, type KubeConfig, type KubernetesObject, type ObjectCache } from './client-node';
import type { WatchSource } from './sources';
import { performance } from 'node:perf_hooks';

export type InformerEventType = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (type: InformerEventType, object: T) => void;

export interface ResilientInformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  source: WatchSource<T>;
  logger: Logger;
  /** Delay before restarting after an error: doubles per failure up to maxMs. */
  backoff: { minMs: number; maxMs: number };
  /** Every this often the cache is rebuilt from a fresh list, whatever the watch says. */
  relistMs: number;
  /** Called on every restart (for metrics). */
  onRestart?: (reason: 'error' | 'relist') => void;
}

type ListWatch<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

/** One underlying client-node informer and what the wrapper knows about it. */
interface Generation<T extends KubernetesObject> {
  informer: ListWatch<T>;
  role: 'current' | 'candidate' | 'retired';
  failed: boolean;
}

/**
 * client-node's informer relists on 410 Gone by itself, but on any other error (a dropped connection, a 5xx, a
 * failed list) it calls its error handlers and stops for good. This wrapper restarts it with capped backoff,
 * and every `relistMs` replaces it with a freshly listed one: that repairs anything a watch missed and a watch
 * that hangs without an error (client-node sets no timeout on it). Handlers see the same add/update/delete
 * stream throughout; a relist replays every object as add/update, which doubles as a resync.
 */
export class ResilientInformer<T extends KubernetesObject> {
  private readonly handlers = new Set<InformerHandler<T>>();
  private readonly backoff: Backoff;
  private current: Generation<T> | undefined;
  private stopped = true;
  private restartTimer: NodeJS.Timeout | undefined;
  private relistTimer: NodeJS.Timeout | undefined;
  private relisting = false;
  /** When the current informer last came up; failures further apart than backoff.maxMs start from minMs again. */
  private healthySince = 0;
  private markSynced!: () => void;
  private readonly synced = new Promise<void>((resolve) => (this.markSynced = resolve));
  private hasSynced = false;

  constructor(private readonly options: ResilientInformerOptions<T>) {
    this.backoff = new Backoff(options.backoff.minMs, options.backoff.maxMs);
  }

  get name(): string {
    return this.options.source.name;
  }

  on(handler: InformerHandler<T>): void {
    this.handlers.add(handler);
  }

  /** Starts listing and watching; returns at once. `whenSynced()` resolves after the first successful list. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.current = this.spawn('current');
    void this.run(this.current);
    this.relistTimer = setInterval(() => void this.relist(), this.options.relistMs);
  }

  whenSynced(): Promise<void> {
    return this.synced;
  }

  get isSynced(): boolean {
    return this.hasSynced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.relistTimer);
    const generation = this.current;
    this.current = undefined;
    if (generation) await this.retire(generation);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.current?.informer.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.current?.informer.list(namespace) ?? [];
  }

  private spawn(role: Generation<T>['role']): Generation<T> {
    const { kubeConfig, source } = this.options;
    // ListWatch rather than makeInformer, which has no field selector: the same selectors on the list and the watch.
    const informer = new k8s.ListWatch<T>(source.path, new k8s.Watch(kubeConfig), () => source.list(), false, source.labelSelector, source.fieldSelector);
    const generation: Generation<T> = { informer, role, failed: false };
    for (const type of ['add', 'update', 'delete'] as const) {
      informer.on(type, (object: T) => {
        if (generation.role !== 'retired') this.emit(type, object);
      });
    }
    informer.on('error', (err: unknown) => this.onError(generation, err));
    return generation;
  }

  /** Starts (or restarts) an informer; true when it listed and its watch is open. */
  private async run(generation: Generation<T>): Promise<boolean> {
    generation.failed = false;
    try {
      await generation.informer.start();
    } catch (err) {
      this.onError(generation, err);
    }
    if (generation.failed || generation.role === 'retired' || this.stopped) return false;
    if (generation.role === 'current') this.cameUp();
    return true;
  }

  private cameUp(): void {
    this.healthySince = performance.now();
    if (!this.hasSynced) {
      this.hasSynced = true;
      this.markSynced();
    }
  }

  private onError(generation: Generation<T>, err: unknown): void {
    // A stopped or replaced informer reports the abort of its own watch; that is not a failure.
    if (this.stopped || generation.role === 'retired') return;
    generation.failed = true;
    if (generation.role === 'candidate') return;
    if (this.restartTimer) return;
    if (performance.now() - this.healthySince > this.backoff.maxMs) this.backoff.reset();
    const delayMs = this.backoff.next();
    this.options.logger.warn(
      { informer: this.name, err: messageOf(err), statusCode: httpStatusOf(err), delayMs, failures: this.backoff.failures },
      'watch failed; restarting',
    );
    this.options.onRestart?.('error');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (generation.role === 'current' && !this.stopped) void this.run(generation);
    }, delayMs);
  }

  /** Lists afresh into a new informer; swaps it in only once it is up, so a failed relist loses nothing. */
  private async relist(): Promise<void> {
    if (this.stopped || this.relisting || !this.current) return;
    this.relisting = true;
    const candidate = this.spawn('candidate');
    try {
      const up = await this.run(candidate);
      const old = this.current;
      if (!up || this.stopped || !old) {
        await this.retire(candidate);
        return;
      }
      // Objects deleted while the old watch was not delivering: the fresh list no longer has them.
      for (const object of old.informer.list()) {
        if (!candidate.informer.get(object.metadata?.name ?? '', object.metadata?.namespace)) this.emit('delete', object);
      }
      candidate.role = 'current';
      this.current = candidate;
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
      this.cameUp();
      this.options.onRestart?.('relist');
      await this.retire(old);
    } finally {
      this.relisting = false;
    }
  }

  private async retire(generation: Generation<T>): Promise<void> {
    generation.role = 'retired';
    try {
      await generation.informer.stop();
    } catch (err) {
      this.options.logger.debug({ informer: this.name, err: messageOf(err) }, 'stopping a replaced informer failed');
    }
  }

  private emit(type: InformerEventType, object: T): void {
    for (const handler of this.handlers) {
      try {
        handler(type, object);
      } catch (err) {
        this.options.logger.error({ informer: this.name, err: messageOf(err) }, 'informer handler threw');
      }
    }
  }
}
