import type { Pool } from 'pg';
import { Counter, Gauge, type Registry } from 'prom-client';
import { readBacklog, readOldestTransactionAgeSeconds, type PartitionBacklog } from '@outbox-relay/outbox';
import type { Logger } from '@outbox-relay/runtime';

export interface BacklogMetricsOptions {
  pool: Pool;
  /** Schema of the outbox tables. */
  schema: string;
  /**
   * A scrape within this many milliseconds of the last database read reuses it, so several Prometheus servers
   * (or a dashboard refreshing fast) cost one query per period. Default 2000.
   */
  cacheMs?: number;
  logger?: Logger;
}

interface BacklogSnapshot {
  partitions: PartitionBacklog[];
  oldestTransactionAgeSeconds: number;
}

/**
 * Backlog gauges read from the database at scrape time (readBacklog): pending events and the oldest pending
 * event's age per partition, and the age of the oldest open transaction — reading by state means such a
 * transaction delays only its own events (and, through the per-aggregate lock, later writers of the same
 * aggregates), and this is how long that delay is at most. They describe the shared outbox, so every instance
 * reports the same values: aggregate them with max(), not sum().
 */
export class BacklogMetrics {
  private readonly cacheMs: number;
  private cached: { at: number; snapshot: Promise<BacklogSnapshot | null>; settled: boolean } | null = null;
  private readonly readErrors: Counter;

  constructor(
    registry: Registry,
    private readonly options: BacklogMetricsOptions,
  ) {
    this.cacheMs = options.cacheMs ?? 2000;
    const registers = [registry];
    const snapshot = () => this.snapshot();
    this.readErrors = new Counter({
      name: 'outbox_backlog_read_errors_total',
      help: 'Scrapes whose backlog query failed (the per-partition backlog gauges are then left out of that scrape).',
      registers,
      // Waits for this scrape's read, so a failure is counted in the same scrape.
      async collect() {
        await snapshot();
      },
    });
    new Gauge({
      name: 'outbox_pending_events',
      help: 'Events committed to the outbox and not yet published, per partition.',
      labelNames: ['partition'],
      registers,
      async collect() {
        this.reset();
        for (const p of (await snapshot())?.partitions ?? []) this.set({ partition: String(p.partition) }, p.pending);
      },
    });
    new Gauge({
      name: 'outbox_oldest_pending_age_seconds',
      help: 'Age of the oldest unpublished event per partition (database clock), 0 when none is pending.',
      labelNames: ['partition'],
      registers,
      async collect() {
        this.reset();
        for (const p of (await snapshot())?.partitions ?? []) this.set({ partition: String(p.partition) }, p.oldestPendingAgeSeconds);
      },
    });
    new Gauge({
      name: 'outbox_oldest_transaction_age_seconds',
      help: 'Age of the oldest open transaction in the database: the longest an open writer can delay events (lag, never loss). NaN when it could not be read.',
      registers,
      async collect() {
        // An unlabelled gauge is always exposed; NaN says "unknown" rather than a reassuring 0.
        this.set((await snapshot())?.oldestTransactionAgeSeconds ?? Number.NaN);
      },
    });
  }

  /**
   * One database read per `cacheMs`, shared by every gauge of a scrape and by concurrent scrapes; a read still in
   * flight is always shared (even with `cacheMs` 0), so one scrape is one read and counts at most one error.
   */
  private snapshot(): Promise<BacklogSnapshot | null> {
    const now = performance.now();
    if (this.cached && (!this.cached.settled || now - this.cached.at < this.cacheMs)) return this.cached.snapshot;
    const { pool, schema } = this.options;
    const snapshot = Promise.all([readBacklog(pool, schema), readOldestTransactionAgeSeconds(pool)]).then(
      ([partitions, oldestTransactionAgeSeconds]) => ({ partitions, oldestTransactionAgeSeconds }),
      (error: unknown) => {
        this.readErrors.inc();
        this.options.logger?.warn({ err: error, schema }, 'metrics: cannot read the outbox backlog');
        return null;
      },
    );
    const entry = { at: now, snapshot, settled: false };
    this.cached = entry;
    void snapshot.then(() => (entry.settled = true));
    return snapshot;
  }
}
