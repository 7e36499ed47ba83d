import type { Pool } from 'pg';
import { delay, FailureLog, type Logger } from '@outbox-relay/runtime';
import { deleteInBatches } from './batched-delete';
import { outboxTables } from '../schema/names';

export interface OutboxRetention {
  /** Published events older than this are deleted (`outboxctl replay` can only reach events still kept). */
  publishedMs: number;
  /** Resolved (replayed or discarded) relay dead letters older than this are deleted; open ones never are. */
  deadLetterMs: number;
  /** Time between sweeps. */
  intervalMs: number;
  /** Rows per DELETE statement. */
  batchSize: number;
}

/** One sweep over the outbox schema; returns what was deleted. */
export async function sweepOutbox(
  pool: Pool,
  schema: string,
  retention: Pick<OutboxRetention, 'publishedMs' | 'deadLetterMs' | 'batchSize'>,
): Promise<{ published: number; deadLetters: number }> {
  const t = outboxTables(schema);
  // Ordered by seq along the primary key: published rows are (almost) the oldest seqs, so each batch finds its
  // rows at the start of the index without a dedicated published_at index that every mark would have to update.
  const published = await deleteInBatches(pool, {
    table: t.outbox,
    key: ['seq'],
    olderThan: { column: 'published_at', ms: retention.publishedMs },
    orderBy: 'seq',
    batchSize: retention.batchSize,
  });
  const deadLetters = await deleteInBatches(pool, {
    table: t.deadLetters,
    key: ['id'],
    olderThan: { column: 'resolved_at', ms: retention.deadLetterMs },
    batchSize: retention.batchSize,
  });
  return { published, deadLetters };
}

/**
 * Runs a retention sweep every `intervalMs` while `active()` (the relay sweeps the outbox while it leads
 * partition 0, so one process does it; SKIP LOCKED would make several harmless anyway). Failures are logged and
 * retried at the next interval. `deleted` adds up what each sweep reported, per table.
 */
export class RetentionSweeper {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  /** Rows deleted since start, per key of the sweep's result, plus the number of sweeps. */
  readonly deleted: Record<string, number> = { sweeps: 0 };
  private readonly failures: FailureLog;

  constructor(
    private readonly sweep: () => Promise<Record<string, number>>,
    private readonly intervalMs: number,
    private readonly active: () => boolean = () => true,
    private readonly logger?: Logger,
  ) {
    this.failures = new FailureLog(logger, 'retention sweep');
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      await delay(this.intervalMs, this.abort.signal);
      if (this.abort.signal.aborted || !this.active()) continue;
      try {
        const result = await this.sweep();
        let total = 0;
        for (const [key, count] of Object.entries(result)) {
          this.deleted[key] = (this.deleted[key] ?? 0) + count;
          total += count;
        }
        this.deleted.sweeps = (this.deleted.sweeps ?? 0) + 1;
        this.failures.succeeded();
        if (total > 0) this.logger?.info({ deleted: result }, 'retention sweep');
      } catch (error) {
        this.failures.failed(error);
      }
    }
  }
}
