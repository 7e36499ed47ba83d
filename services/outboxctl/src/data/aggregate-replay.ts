import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { enqueue, withTransaction, type OutboxEventInput } from '@outbox-relay/outbox';
import { NotFoundError } from '../errors';
import { REPLAY_MAX_PAYLOAD_BYTES } from './dead-letter-replay';
import type { Tables } from './tables';

export interface AggregateReplayRequest {
  aggregateId: string;
  aggregateType?: string;
  /** Only events written (created_at) at or after this time. */
  since?: Date;
  dryRun: boolean;
}

export interface ReplayedEvent {
  /** The original event id: consumers' inboxes key on it, and the replay carries it as replayOf. */
  originalId: string;
  originalSeq: string;
  aggregateType: string;
  aggregateId: string;
  eventType: string;
  createdAt: Date;
  publishedAt: Date;
  /** The new outbox row (null on a dry run). */
  replayId: string | null;
  replaySeq: string | null;
}

export interface AggregateReplay {
  dryRun: boolean;
  events: ReplayedEvent[];
}

interface Row {
  seq: string;
  id: string;
  aggregate_type: string;
  aggregate_id: string;
  event_type: string;
  /** The stored JSON text: a replay publishes the same bytes as the original. */
  payload_text: string;
  headers: Record<string, string>;
  created_at: Date;
  published_at: Date;
}

/**
 * Re-enqueues the aggregate's already published events that are still in the outbox (within retention), in
 * their original seq order, each as a new row (new id, so the stream does not drop it as a duplicate) with
 * header replayOf = the original id. One transaction: either every replay is enqueued or none.
 */
export async function replayAggregate(pool: Pool, t: Tables, request: AggregateReplayRequest): Promise<AggregateReplay> {
  if (request.dryRun) {
    const rows = await selectPublished(pool, t, request);
    return { dryRun: true, events: rows.map((r) => replayed(r, null)) };
  }
  return withTransaction(pool, async (tx) => {
    const rows = await selectPublished(tx, t, request);
    const events: OutboxEventInput[] = rows.map((r) => ({
      id: randomUUID(),
      aggregateType: r.aggregate_type,
      aggregateId: r.aggregate_id,
      eventType: r.event_type,
      payloadJson: r.payload_text,
      headers: { ...r.headers, replayOf: originalIdOf(r) },
    }));
    // One enqueue call: the rows draw their seqs in this order, under the aggregate's lock.
    const written = await enqueue(tx, events, { schema: t.outbox.schema, maxPayloadBytes: REPLAY_MAX_PAYLOAD_BYTES });
    return { dryRun: false, events: rows.map((r, i) => replayed(r, written[i]!)) };
  });
}

/** A row that is itself a replay stands for its original: replaying it again keeps pointing at the original. */
function originalIdOf(row: Row): string {
  return row.headers.replayOf ?? row.id;
}

async function selectPublished(db: Pool | PoolClient, t: Tables, request: AggregateReplayRequest): Promise<Row[]> {
  const { rows } = await db.query<Row>(
    `SELECT seq::text AS seq, id::text AS id, aggregate_type, aggregate_id, event_type, payload::text AS payload_text, headers,
            created_at, published_at
     FROM ${t.outbox.publishedEvents} o
     WHERE aggregate_id = $1 AND ($2::text IS NULL OR aggregate_type = $2)
       AND ($3::timestamptz IS NULL OR created_at >= $3)
     ORDER BY o.seq`, // the bigint column, not the text alias
    [request.aggregateId, request.aggregateType ?? null, request.since ?? null],
  );
  // An earlier replay of an event that is also selected would only repeat it: keep the first row per original.
  const seen = new Set<string>();
  const unique = rows.filter((r) => {
    const original = originalIdOf(r);
    if (seen.has(original)) return false;
    seen.add(original);
    return true;
  });
  if (unique.length === 0) {
    const type = request.aggregateType ? ` of type ${request.aggregateType}` : '';
    const since = request.since ? ` written since ${request.since.toISOString()}` : '';
    throw new NotFoundError(
      'events',
      `no published events of aggregate "${request.aggregateId}"${type}${since} are in the outbox ` +
        '(never published, or already removed by retention); nothing enqueued',
    );
  }
  return unique;
}

function replayed(r: Row, written: { id: string; seq: string } | null): ReplayedEvent {
  return {
    originalId: originalIdOf(r),
    originalSeq: r.seq,
    aggregateType: r.aggregate_type,
    aggregateId: r.aggregate_id,
    eventType: r.event_type,
    createdAt: r.created_at,
    publishedAt: r.published_at,
    replayId: written?.id ?? null,
    replaySeq: written?.seq ?? null,
  };
}
