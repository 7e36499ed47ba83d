import { Backoff } from '@outbox-relay/runtime';
import { performance } from 'node:perf_hooks';

/** What processing one key returned: when to look at it again (ms), or nothing. Throwing retries with backoff. */
export type ProcessKey = (key: string) => Promise<number | undefined | void>;

export interface WorkQueueOptions {
  process: ProcessKey;
  /** Keys processed at once; one key is never processed twice at the same time. */
  concurrency: number;
  /** Retry delays after failures of one key: from minMs doubling to maxMs. */
  retry: { minMs: number; maxMs: number };
  onError?: (key: string, err: unknown, retryInMs: number) => void;
  onDone?: (key: string, outcome: 'success' | 'error', durationMs: number) => void;
}

/**
 * A work queue in the style of client-go's: adding a key that is already waiting does nothing (events coalesce
 * per object), a key added while it is being processed runs once more afterwards (so no change is missed), a
 * failing key is retried with its own backoff, and `addAfter` schedules a later look (the earliest one wins).
 * Memory is bounded by the number of distinct keys.
 */
export class WorkQueue {
  private readonly waiting: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, Backoff>();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly options: WorkQueueOptions) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (!this.queued.has(key)) {
      this.queued.add(key);
      this.waiting.push(key);
    }
    this.pump();
  }

  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    if (delayMs <= 0) return this.add(key);
    const at = performance.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    this.timers.set(key, { at, timer });
  }

  /** Forgets a key's pending look and failure history (its object was deleted). */
  forget(key: string): void {
    const pending = this.timers.get(key);
    if (pending) clearTimeout(pending.timer);
    this.timers.delete(key);
    this.failures.delete(key);
  }

  get length(): number {
    return this.waiting.length;
  }

  /** Keys waiting, being processed, or scheduled for later. */
  get size(): number {
    return new Set([...this.queued, ...this.processing, ...this.timers.keys()]).size;
  }

  /** Stops taking work and waits for what is being processed to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.waiting.length = 0;
    this.queued.clear();
    this.dirty.clear();
    await Promise.all([...this.running]);
  }

  private pump(): void {
    while (!this.stopped && this.processing.size < this.options.concurrency && this.waiting.length > 0) {
      const key = this.waiting.shift()!;
      this.queued.delete(key);
      this.processing.add(key);
      const run = this.run(key);
      this.running.add(run);
      void run.finally(() => this.running.delete(run));
    }
  }

  private async run(key: string): Promise<void> {
    const started = performance.now();
    try {
      const again = await this.options.process(key);
      this.failures.delete(key);
      this.options.onDone?.(key, 'success', performance.now() - started);
      if (typeof again === 'number') this.addAfter(key, again);
    } catch (err) {
      let backoff = this.failures.get(key);
      if (!backoff) this.failures.set(key, (backoff = new Backoff(this.options.retry.minMs, this.options.retry.maxMs)));
      const delayMs = backoff.next();
      this.options.onDone?.(key, 'error', performance.now() - started);
      this.options.onError?.(key, err, delayMs);
      this.addAfter(key, delayMs);
    } finally {
      this.processing.delete(key);
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }
}
