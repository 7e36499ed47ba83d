import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import {
  CloudEventsHeaders,
  decodeCloudEventsHeaderValue,
  enqueue,
  EventValidationError,
  isRelayHeaderName,
  OutboxHeaders,
  withTransaction,
  type EnqueuedEvent,
  type EventHeaders,
  type JsonValue,
  type OutboxEventInput,
  type OutboxEventPayload,
} from '@outbox-relay/outbox';
import { DeadLetterStateError } from '../errors';
import type { DeadLetterRef } from '../ids';
import { readDeadLetter, type DeadLetterDetail } from './dead-letters';
import { assertOpen, markResolved } from './resolve';
import type { Tables } from './tables';

/**
 * Replays may carry events the writer's limit would refuse today (the limit is per service and may have been
 * raised); the stream's own max_payload is the real judge, and the relay dead-letters again if it refuses.
 */
export const REPLAY_MAX_PAYLOAD_BYTES = 8 * 1024 * 1024;

export interface DeadLetterReplay {
  /** `r<n>` or `c<n>`. */
  id: string;
  kind: 'relay' | 'consumer';
  consumer: string | null;
  /** The event that failed (for consumer dead letters: the original event id consumers' inboxes key on). */
  eventId: string;
  /** The outbox row written: the original id for relay dead letters, a new id for consumer ones. */
  enqueuedId: string;
  seq: string;
  partition: number;
  aggregateType: string;
  aggregateId: string;
  eventType: string;
  /** Consumer dead letters: whether the consumer's inbox row and failure counter were there to delete. */
  inboxRowDeleted: boolean | null;
  failureCounterDeleted: boolean | null;
}

/**
 * Replays one dead letter in one transaction; on any error nothing is changed.
 * - relay: the event goes back into the outbox under its ORIGINAL id (it was never published) and the dead
 *   letter is resolved 'replayed';
 * - consumer: the consumer's inbox row and failure counter are deleted, the dead letter is resolved 'replayed',
 *   and a replay event (new id, header replayOf = original id) is enqueued. Consumers key their inbox on the
 *   original id, so only consumers without an inbox row for it (this one, now) process it again.
 */
export async function replayDeadLetter(pool: Pool, t: Tables, ref: DeadLetterRef): Promise<DeadLetterReplay> {
  return withTransaction(pool, async (tx) => {
    const dl = await readDeadLetter(tx, t, ref, true);
    assertOpen(dl);
    return ref.kind === 'relay' ? replayRelay(tx, t, dl) : replayConsumer(tx, t, dl);
  });
}

async function replayRelay(tx: PoolClient, t: Tables, dl: DeadLetterDetail): Promise<DeadLetterReplay> {
  // Resolve first, enqueue second: if the enqueue fails the transaction rolls back the resolution too.
  await markResolved(tx, t, dl, 'replayed');
  const event: OutboxEventInput = {
    id: dl.eventId,
    aggregateType: dl.aggregateType!,
    aggregateId: dl.aggregateId!,
    eventType: dl.eventType,
    ...payloadOf(dl),
    headers: dl.headers,
  };
  const row = await enqueueOrExplain(tx, t, dl, event);
  return result(dl, event, row, null, null);
}

async function replayConsumer(tx: PoolClient, t: Tables, dl: DeadLetterDetail): Promise<DeadLetterReplay> {
  const aggregateType = dl.aggregateType ?? dl.headers[OutboxHeaders.aggregateType];
  const aggregateId = dl.aggregateId ?? dl.headers[OutboxHeaders.aggregateId];
  if (!aggregateType || !aggregateId) {
    throw new DeadLetterStateError(
      dl.id,
      'has no aggregate type/id (no aggregate columns and no Outbox-Aggregate-Type/-Id headers), so it cannot be ' +
        'replayed through the outbox; nothing changed (discard it, or re-publish it by hand)',
    );
  }
  if (!dl.payloadParsed) {
    throw new DeadLetterStateError(
      dl.id,
      'its payload is not JSON (kept as raw_payload), so it cannot be replayed through the outbox; nothing changed',
    );
  }
  const inboxRow = await tx.query(`DELETE FROM ${t.inbox.inbox} WHERE consumer = $1 AND event_id = $2`, [dl.consumer, dl.eventId]);
  const failures = await tx.query(`DELETE FROM ${t.inbox.failures} WHERE consumer = $1 AND event_id = $2`, [dl.consumer, dl.eventId]);
  await markResolved(tx, t, dl, 'replayed');
  const event: OutboxEventInput = {
    id: randomUUID(),
    aggregateType,
    aggregateId,
    eventType: dl.eventType,
    ...payloadOf(dl),
    headers: { ...carriedHeaders(dl.headers), replayOf: dl.eventId },
  };
  const row = await enqueueOrExplain(tx, t, dl, event);
  return result(dl, event, row, inboxRow.rowCount === 1, failures.rowCount === 1);
}

/** The payload a replay publishes: the stored text, byte for byte (dead letters written before it was kept: the value). */
function payloadOf(dl: DeadLetterDetail): OutboxEventPayload {
  return dl.payloadText !== null ? { payloadJson: dl.payloadText } : { payload: dl.payload as JsonValue };
}

/**
 * The headers a consumer saw, mapped back to outbox headers: correlation and trace context plus the
 * application's own headers. Transport headers (Nats-*, Outbox-*, the CloudEvents ones) are the relay's to set:
 * carried over they would describe the original message, not the replay.
 */
export function carriedHeaders(received: Record<string, string>): EventHeaders {
  const headers: EventHeaders = {};
  for (const [name, value] of Object.entries(received)) {
    if (name === OutboxHeaders.correlationId) headers.correlationId = value;
    else if (name.toLowerCase() === CloudEventsHeaders.correlationId) headers.correlationId ??= decodeCloudEventsHeaderValue(value);
    else if (isRelayHeaderName(name)) continue;
    else if (/^[A-Za-z][A-Za-z0-9-]{0,63}$/.test(name)) headers[name] = value;
  }
  return headers;
}

async function enqueueOrExplain(tx: PoolClient, t: Tables, dl: DeadLetterDetail, event: OutboxEventInput): Promise<EnqueuedEvent> {
  try {
    const [row] = await enqueue(tx, event, { schema: t.outbox.schema, maxPayloadBytes: REPLAY_MAX_PAYLOAD_BYTES });
    return row!;
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      throw new DeadLetterStateError(dl.id, `event ${event.id} is already in the outbox; nothing changed`, { cause: error });
    }
    if (error instanceof EventValidationError) {
      throw new DeadLetterStateError(dl.id, `cannot be enqueued (${error.message}); nothing changed`, { cause: error });
    }
    throw error;
  }
}

function result(
  dl: DeadLetterDetail,
  event: OutboxEventInput,
  row: EnqueuedEvent,
  inboxRowDeleted: boolean | null,
  failureCounterDeleted: boolean | null,
): DeadLetterReplay {
  return {
    id: dl.id,
    kind: dl.kind,
    consumer: dl.consumer,
    eventId: dl.eventId,
    enqueuedId: row.id,
    seq: row.seq,
    partition: row.partition,
    aggregateType: event.aggregateType,
    aggregateId: event.aggregateId,
    eventType: event.eventType,
    inboxRowDeleted,
    failureCounterDeleted,
  };
}
