import type { Pool } from 'pg';
import { deleteInBatches } from '@outbox-relay/outbox/internal';
import { inboxTables } from './names';

export interface SweepInboxOptions {
  pool: Pool;
  schema: string;
  /**
   * Age after which inbox rows go. It must exceed the longest time an event can still arrive again: the stream's
   * duplicate window for re-publishes, and the time a consumer may stay down with an unacknowledged message.
   */
  olderThanMs: number;
  /** Age after which resolved dead letters go (open ones are never deleted). */
  deadLetterOlderThanMs: number;
  /** Rows per DELETE statement; each batch is its own short transaction. Default 1000. */
  batchSize?: number;
}

/** Deletes old inbox rows, stale failure counters and old resolved dead letters in bounded batches. */
export async function sweepInbox(options: SweepInboxOptions): Promise<{ inbox: number; deadLetters: number; failures: number }> {
  const t = inboxTables(options.schema);
  const sweep = (table: string, key: string[], column: string, ms: number) =>
    deleteInBatches(options.pool, { table, key, olderThan: { column, ms }, batchSize: options.batchSize ?? 1000 });
  return {
    inbox: await sweep(t.inbox, ['consumer', 'event_id'], 'processed_at', options.olderThanMs),
    failures: await sweep(t.failures, ['consumer', 'event_id'], 'last_failed_at', options.olderThanMs),
    deadLetters: await sweep(t.deadLetters, ['id'], 'resolved_at', options.deadLetterOlderThanMs),
  };
}
