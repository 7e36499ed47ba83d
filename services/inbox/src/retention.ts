import type { Pool } from 'pg';
import { deleteInBatches } from '@outbox-relay/outbox';
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
  const batchSize = options.batchSize ?? 1000;
  const inbox = await deleteInBatches(options.pool, {
    table: t.inbox,
    key: ['consumer', 'event_id'],
    where: 'processed_at < now() - make_interval(secs => $1::float8 / 1000)',
    orderBy: 'processed_at',
    params: [options.olderThanMs],
    batchSize,
  });
  const failures = await deleteInBatches(options.pool, {
    table: t.failures,
    key: ['consumer', 'event_id'],
    where: 'last_failed_at < now() - make_interval(secs => $1::float8 / 1000)',
    orderBy: 'last_failed_at',
    params: [options.olderThanMs],
    batchSize,
  });
  const deadLetters = await deleteInBatches(options.pool, {
    table: t.deadLetters,
    key: ['id'],
    where: 'resolved_at < now() - make_interval(secs => $1::float8 / 1000)',
    orderBy: 'resolved_at',
    params: [options.deadLetterOlderThanMs],
    batchSize,
  });
  return { inbox, deadLetters, failures };
}
