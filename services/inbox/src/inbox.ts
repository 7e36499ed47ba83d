import type { Pool, PoolClient } from 'pg';
import type { Logger } from '@outbox-relay/runtime';
import { withTransaction } from '@outbox-relay/outbox';
import { describeError, HandlerFailedError } from './errors';
import type { InboxEvent } from './event';
import { inboxTables, type InboxTables } from './names';

export type HandleOutcome<T> = { status: 'processed'; value: T } | { status: 'duplicate' };
export type DeadLetterOutcome = { status: 'dead_lettered'; id: string } | { status: 'duplicate' };
export type InboxHandler<T> = (tx: PoolClient, event: InboxEvent) => Promise<T>;

export interface InboxOptions {
  pool: Pool;
  /** Schema of the inbox tables (INBOX_SCHEMA). */
  schema: string;
  /** The consumer's name: every consumer keeps its own record of what it processed. */
  consumer: string;
  /** Called after every commit (e.g. `outbox.wake()` when handlers enqueue outbox events). */
  afterCommit?: () => void;
  logger?: Logger;
}

const LAST_ERROR_MAX = 2000;

/**
 * Exactly-once processing for one consumer: a handler's side effects and the (consumer, event id) inbox row
 * commit in one transaction, so a redelivered or re-published event finds the row and changes nothing.
 */
export class Inbox {
  readonly consumer: string;
  private readonly pool: Pool;
  private readonly t: InboxTables;
  private readonly afterCommit: () => void;

  constructor(options: InboxOptions) {
    if (options.consumer.length === 0 || options.consumer.length > 200) {
      throw new RangeError('consumer name must be 1-200 characters');
    }
    this.consumer = options.consumer;
    this.pool = options.pool;
    this.t = inboxTables(options.schema);
    this.afterCommit = options.afterCommit ?? (() => undefined);
  }

  /**
   * Claims the inbox row first: when another delivery of the same event is being processed right now, this waits
   * on the row until that one commits (then this is a duplicate) or rolls back (then this one processes). Errors
   * thrown by `handler` roll everything back and surface as `HandlerFailedError`; other errors are the
   * infrastructure's and are rethrown as they are.
   */
  async handleOnce<T>(event: InboxEvent, handler: InboxHandler<T>): Promise<HandleOutcome<T>> {
    const outcome = await withTransaction(this.pool, async (tx): Promise<HandleOutcome<T>> => {
      if (!(await this.claim(tx, event, 'processed'))) return { status: 'duplicate' };
      let value: T;
      try {
        value = await handler(tx, event);
      } catch (error) {
        throw new HandlerFailedError(this.consumer, event.eventId, error);
      }
      // A failure counter exists only if an earlier delivery (or a replayed dead letter) failed.
      if (event.deliveryCount > 1) await this.clearFailures(tx, event);
      return { status: 'processed', value };
    });
    if (outcome.status === 'processed') this.afterCommit();
    return outcome;
  }

  async isProcessed(eventId: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(`SELECT 1 FROM ${this.t.inbox} WHERE consumer = $1 AND event_id = $2`, [
      this.consumer,
      eventId,
    ]);
    return rowCount === 1;
  }

  /** Counts one handler failure, in a transaction of its own; returns the failures so far. */
  async recordFailure(event: InboxEvent, error: unknown): Promise<number> {
    const { rows } = await this.pool.query<{ failures: number }>(
      `INSERT INTO ${this.t.failures} (consumer, event_id, failures, last_error) VALUES ($1, $2, 1, $3)
       ON CONFLICT (consumer, event_id) DO UPDATE
       SET failures = ${this.t.failures}.failures + 1, last_error = EXCLUDED.last_error, last_failed_at = now()
       RETURNING failures`,
      [this.consumer, event.eventId, describeError(error instanceof HandlerFailedError ? error.cause : error).slice(0, LAST_ERROR_MAX)],
    );
    return rows[0]!.failures;
  }

  /**
   * Gives up on an event: the inbox row (outcome dead_lettered), the dead-letter row and `effects` (say, marking
   * an order FAILED and enqueueing PaymentFailed) commit together. A duplicate when the event was already
   * processed or dead-lettered.
   */
  async deadLetter(
    event: InboxEvent,
    reason: string,
    attempts: number,
    effects?: (tx: PoolClient, event: InboxEvent) => Promise<void>,
  ): Promise<DeadLetterOutcome> {
    const outcome = await withTransaction(this.pool, async (tx): Promise<DeadLetterOutcome> => {
      if (!(await this.claim(tx, event, 'dead_lettered', attempts))) return { status: 'duplicate' };
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO ${this.t.deadLetters}
           (consumer, event_id, event_type, subject, aggregate_type, aggregate_id, stream_seq, payload, raw_payload,
            headers, reason, attempts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::json, $9, $10::jsonb, $11, $12)
         RETURNING id::text AS id`,
        [
          this.consumer,
          event.eventId,
          event.eventType,
          event.subject,
          event.aggregateType ?? null,
          event.aggregateId ?? null,
          event.streamSeq ?? null,
          // The bytes that arrived, so that a replay of the dead letter publishes them again unchanged.
          event.parseError ? null : (event.payloadText ?? JSON.stringify(event.payload)),
          event.rawPayload ?? null,
          JSON.stringify(event.headers),
          reason,
          Math.max(1, attempts),
        ],
      );
      if (effects) await effects(tx, event);
      await this.clearFailures(tx, event);
      return { status: 'dead_lettered', id: rows[0]!.id };
    });
    if (outcome.status === 'dead_lettered') this.afterCommit();
    return outcome;
  }

  /** True when this transaction now owns the (consumer, event) row; false when it already existed. */
  private async claim(tx: PoolClient, event: InboxEvent, outcome: 'processed' | 'dead_lettered', attempts = event.deliveryCount): Promise<boolean> {
    const { rowCount } = await tx.query(
      `INSERT INTO ${this.t.inbox} (consumer, event_id, event_type, subject, stream_seq, attempts, outcome)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (consumer, event_id) DO NOTHING`,
      [this.consumer, event.eventId, event.eventType, event.subject, event.streamSeq ?? null, Math.max(1, attempts), outcome],
    );
    return rowCount === 1;
  }

  private async clearFailures(tx: PoolClient, event: InboxEvent): Promise<void> {
    await tx.query(`DELETE FROM ${this.t.failures} WHERE consumer = $1 AND event_id = $2`, [this.consumer, event.eventId]);
  }
}
