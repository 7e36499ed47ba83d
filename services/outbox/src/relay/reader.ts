import type { Pool } from 'pg';
import { LeaseLostError } from '../errors';
import type { OutboxRecord } from '../outbox-record';
import { outboxTables, type OutboxTables } from '../schema/names';

/** What one read may hold by default (OUTBOX_BATCH_MAX_BYTES): payloads and headers, as they arrive. */
export const DEFAULT_BATCH_MAX_BYTES = 4 * 1024 * 1024;

interface PendingRow {
  seq: string;
  id: string;
  partition: number;
  aggregate_type: string;
  aggregate_id: string;
  event_type: string;
  payload: string;
  headers: Record<string, string>;
  created_at: Date;
  /** With `walPosition`: the server's WAL insert position while the read ran. */
  wal_lsn?: string;
}

/** One read: the events, and where the server's WAL was when they were read (with `walPosition`, else null). */
export interface PendingBatch {
  records: OutboxRecord[];
  /** Every commit the read could see lies before this position (StandbyFlushGate waits for standbys to reach it). */
  walLsn: string | null;
}

/**
 * Outbox seqs as a Postgres array literal, made in one join: node-postgres builds an array parameter character by
 * character, which was the largest allocation on the read side (up to 2,000 excluded seqs per read, 1,000 per
 * mark). Seqs are digits: nothing to quote.
 */
function seqArrayLiteral(seqs: readonly string[]): string {
  return `{${seqs.join(',')}}`;
}

function toRecord(r: PendingRow): OutboxRecord {
  return {
    seq: r.seq,
    id: r.id,
    partition: r.partition,
    aggregateType: r.aggregate_type,
    aggregateId: r.aggregate_id,
    eventType: r.event_type,
    payload: r.payload,
    headers: r.headers,
    createdAt: r.created_at,
  };
}

/**
 * Where a look at the stream starts: a stream sequence (`check_stream_from`), and after a database failover also
 * a time (`check_stream_since`, see migration 1733500000000), which then wins. Both null: nothing to look for.
 */
export interface StreamCheckStart {
  from: number | null;
  since: Date | null;
}

/** What a mark records: the batch's seqs, and its last event (the lease row's `last_published_*`). */
export interface MarkedBatch {
  seqs: readonly string[];
  lastSeq: string;
  lastId: string;
}

/** The lease a fenced statement runs under. */
export interface Fence {
  partition: number;
  holder: string;
  epoch: number;
}

/**
 * Reads unpublished events by state, in seq order, and marks them published. Never a "seq > cursor" read:
 * a transaction that drew a lower seq but committed later would be skipped by a cursor. Both statements are
 * fenced by the lease: they do nothing unless `holder` still holds `partition` at `epoch`.
 */
export class OutboxReader {
  private readonly t: OutboxTables;
  private readonly readSql: string;
  private readonly markSql: string;
  private readonly deadLetterSql: string;

  private readonly maxBatchBytes: number;

  /**
   * `walPosition`: each read also says where the WAL was (PendingBatch.walLsn), in the same statement.
   * `maxBatchBytes`: a read returns events whose payloads and headers add up to at most this many bytes (and at
   * least one event, whatever its size), so what a relay holds does not grow with the size of the events.
   */
  constructor(
    private readonly pool: Pool,
    schema: string,
    options: { walPosition?: boolean; maxBatchBytes?: number } = {},
  ) {
    this.maxBatchBytes = options.maxBatchBytes ?? DEFAULT_BATCH_MAX_BYTES;
    this.t = outboxTables(schema);
    // A function (migrations 1733000000000_read_pending.sql, 1733700000000_read_byte_limit.sql): the same fenced,
    // ordered read, with its own planner settings so that no statistics can turn it into a sort of the whole
    // backlog, in one round trip.
    // The WAL position is taken during the statement, so after its snapshot: a commit the read sees was written
    // to the WAL before it was visible, hence before that position.
    this.readSql = options.walPosition
      ? `SELECT r.*, pg_current_wal_insert_lsn()::text AS wal_lsn FROM "${schema}".outbox_read_pending($1, $2, $3, $4, $5, $6) AS r`
      : `SELECT * FROM "${schema}".outbox_read_pending($1, $2, $3, $4, $5, $6)`;
    // The lease row is updated (and so row-locked) in the same statement as the events: a successor's
    // acquisition waits for this commit and then sees the new progress, so fenced progress is never lost
    // or interleaved with the successor's.
    // check_stream_from ($7) moves with every mark: where a successor must look in the stream for events
    // acknowledged but not marked (see stream-check.ts).
    this.markSql = `
      WITH lease AS (
        UPDATE ${this.t.partitions}
        SET published_total = published_total + cardinality($4::bigint[]),
            last_published_seq = $5::bigint, last_published_id = $6::uuid, last_published_at = now(),
            check_stream_from = $7::bigint
        WHERE partition = $1 AND holder = $2 AND epoch = $3
        RETURNING epoch)
      UPDATE ${this.t.outbox} o SET published_at = now(), published_epoch = lease.epoch
      FROM lease
      WHERE o.seq = ANY($4::bigint[]) AND o.published_at IS NULL
      RETURNING o.seq`;
    // Moves one unpublished event to the dead letters, under the same fence (and lease row lock) as a mark.
    this.deadLetterSql = `
      WITH lease AS (
        UPDATE ${this.t.partitions} SET holder = holder
        WHERE partition = $1 AND holder = $2 AND epoch = $3
        RETURNING epoch),
      moved AS (
        DELETE FROM ${this.t.outbox} o USING lease
        WHERE o.seq = $4 AND o.published_at IS NULL
        RETURNING o.*, lease.epoch AS lease_epoch)
      INSERT INTO ${this.t.deadLetters}
        (event_id, seq, partition, aggregate_type, aggregate_id, event_type, payload, headers, created_at, reason,
         attempts, failed_epoch)
      SELECT id, seq, partition, aggregate_type, aggregate_id, event_type, payload, headers, created_at, $5, $6,
             lease_epoch
      FROM moved
      RETURNING id::text AS id`;
  }

  /**
   * Up to `limit` unpublished events of the partition in seq order, skipping `exclude` (seqs published but whose
   * mark is still in flight). Returns null when the fence no longer holds.
   */
  async readPending(fence: Fence, limit: number, exclude: readonly string[] = []): Promise<OutboxRecord[] | null> {
    return (await this.readPendingBatch(fence, limit, exclude))?.records ?? null;
  }

  /** readPending, with the WAL position of the read. */
  async readPendingBatch(fence: Fence, limit: number, exclude: readonly string[] = []): Promise<PendingBatch | null> {
    const { rows } = await this.pool.query<PendingRow>(this.readSql, [
      fence.partition,
      fence.holder,
      fence.epoch,
      seqArrayLiteral(exclude),
      limit,
      this.maxBatchBytes,
    ]);
    if (rows.length === 0 && !(await this.holds(fence))) return null;
    return { records: rows.map(toRecord), walLsn: rows[0]?.wal_lsn ?? null };
  }

  /**
   * Marks acknowledged events published and records progress on the lease row, only while holding the fence.
   * Throws LeaseLostError when another epoch took over (nothing is marked then).
   */
  async markPublished(fence: Fence, records: readonly OutboxRecord[], checkStreamFrom: number): Promise<number> {
    const last = records[records.length - 1];
    if (!last) return 0;
    return this.markSeqsPublished(fence, { seqs: records.map((r) => r.seq), lastSeq: last.seq, lastId: last.id }, checkStreamFrom);
  }

  /** markPublished, given only what a mark needs: the relay keeps no payload alive while a mark waits its turn. */
  async markSeqsPublished(fence: Fence, batch: MarkedBatch, checkStreamFrom: number): Promise<number> {
    if (batch.seqs.length === 0) return 0;
    const { rows } = await this.pool.query(this.markSql, [
      fence.partition,
      fence.holder,
      fence.epoch,
      seqArrayLiteral(batch.seqs),
      batch.lastSeq,
      batch.lastId,
      checkStreamFrom,
    ]);
    if (rows.length === 0 && !(await this.holds(fence, false))) {
      throw new LeaseLostError(fence.partition, fence.epoch, 'progress update rejected: epoch superseded');
    }
    return rows.length;
  }

  /**
   * Moves an event that cannot be published to the relay's dead letters, only while holding the fence. Returns
   * the dead letter's id, or null when the event is no longer pending. Throws LeaseLostError when superseded.
   */
  async deadLetter(fence: Fence, record: OutboxRecord, reason: string, attempts: number): Promise<string | null> {
    const { rows } = await this.pool.query<{ id: string }>(this.deadLetterSql, [
      fence.partition,
      fence.holder,
      fence.epoch,
      record.seq,
      reason,
      attempts,
    ]);
    if (rows[0]) return rows[0].id;
    if (!(await this.holds(fence, false))) {
      throw new LeaseLostError(fence.partition, fence.epoch, 'dead-letter move rejected: epoch superseded');
    }
    return null;
  }

  /**
   * Where this partition's holder must look in the stream before publishing (null: nothing to look at). Throws
   * LeaseLostError when the fence no longer holds.
   */
  async streamCheckFrom(fence: Fence): Promise<StreamCheckStart> {
    const { rows } = await this.pool.query<{ from: string | null; since: Date | null }>(
      `SELECT check_stream_from::text AS from, check_stream_since AS since FROM ${this.t.partitions} WHERE partition = $1 AND holder = $2 AND epoch = $3`,
      [fence.partition, fence.holder, fence.epoch],
    );
    if (!rows[0]) throw new LeaseLostError(fence.partition, fence.epoch, 'stream check refused: epoch superseded');
    return { from: rows[0].from === null ? null : Number(rows[0].from), since: rows[0].since };
  }

  /**
   * After looking at the stream: marks the events found there published (pending ones of this partition only) and
   * records where the next look starts (`next`, null when nothing can be unmarked any more), in one fenced
   * statement. Returns how many events it marked. Throws LeaseLostError when superseded.
   */
  async settleStreamCheck(fence: Fence, foundIds: readonly string[], next: number | null): Promise<number> {
    const { rows } = await this.pool.query<{ marked: number }>(
      `WITH lease AS (
         SELECT epoch FROM ${this.t.partitions} WHERE partition = $1 AND holder = $2 AND epoch = $3 FOR UPDATE),
       marked AS (
         UPDATE ${this.t.outbox} o SET published_at = now(), published_epoch = lease.epoch
         FROM lease
         WHERE o.partition = $1 AND o.id = ANY($4::uuid[]) AND o.published_at IS NULL
         RETURNING o.seq)
       UPDATE ${this.t.partitions} p
       SET check_stream_from = $5::bigint, check_stream_since = NULL, published_total = published_total + (SELECT count(*) FROM marked)
       FROM lease WHERE p.partition = $1
       RETURNING (SELECT count(*) FROM marked)::int AS marked`,
      [fence.partition, fence.holder, fence.epoch, foundIds, next],
    );
    if (!rows[0]) throw new LeaseLostError(fence.partition, fence.epoch, 'stream check refused: epoch superseded');
    return rows[0].marked;
  }

  /** Whether the fence still holds (optionally also requiring an unexpired lease). */
  async holds(fence: Fence, unexpired = true): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `SELECT 1 FROM ${this.t.partitions} WHERE partition = $1 AND holder = $2 AND epoch = $3
       ${unexpired ? 'AND expires_at > now()' : ''}`,
      [fence.partition, fence.holder, fence.epoch],
    );
    return rowCount === 1;
  }
}
