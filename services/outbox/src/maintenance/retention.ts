import type { Pool } from 'pg';
import { delay, FailureLog, type Logger } from '@outbox-relay/runtime';
import { deleteInBatches } from './batched-delete';
import { outboxTables, type OutboxTables } from '../schema/names';

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

/**
 * Deletes the events of marks older than `publishedMs`, and those marks: up to about `batchSize` events per
 * statement (whole marks, at least one), oldest marks first along the primary key. Each statement is its own short
 * transaction; a mark and its events go together. Returns the events deleted.
 */
async function deletePublishedEvents(pool: Pool, t: OutboxTables, publishedMs: number, batchSize: number): Promise<number> {
  const sql = `
    WITH candidates AS (
      SELECT m.id, cardinality(m.seqs) AS events,
             sum(cardinality(m.seqs)) OVER (ORDER BY m.id ROWS UNBOUNDED PRECEDING) AS running
      FROM (SELECT k.id, k.seqs FROM ${t.marks} k
            WHERE k.marked_at < now() - make_interval(secs => $1::float8 / 1000)
            ORDER BY k.id LIMIT $2) m),
    doomed AS (
      DELETE FROM ${t.marks} m USING candidates c
      WHERE m.id = c.id AND c.running - c.events < $2
      RETURNING m.seqs),
    gone AS (
      DELETE FROM ${t.outbox} o WHERE o.seq IN (SELECT unnest(d.seqs) FROM doomed d) RETURNING 1)
    SELECT (SELECT count(*) FROM doomed)::int AS marks, (SELECT count(*) FROM gone)::int AS events`;
  let total = 0;
  for (;;) {
    const { rows } = await pool.query<{ marks: number; events: number }>(sql, [publishedMs, batchSize]);
    total += rows[0]?.events ?? 0;
    if ((rows[0]?.marks ?? 0) === 0) return total;
  }
}

/** One sweep over the outbox schema; returns what was deleted. */
export async function sweepOutbox(
  pool: Pool,
  schema: string,
  retention: Pick<OutboxRetention, 'publishedMs' | 'deadLetterMs' | 'batchSize'>,
): Promise<{ published: number; deadLetters: number }> {
  const t = outboxTables(schema);
  // By the marks that published them (migration 1733900000000): events are never written after their insert, so
  // their publication time is their mark's.
  const published = await deletePublishedEvents(pool, t, retention.publishedMs, retention.batchSize);
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
