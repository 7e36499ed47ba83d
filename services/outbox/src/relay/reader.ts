import type { Pool } from 'pg';
import { LeaseLostError } from '../errors';
import type { OutboxRecord } from '../outbox-record';
import { outboxTables, type OutboxTables } from '../schema/names';

/**
 * A mark of events looks at the checkpoint at most this often (migration 1733900000000): the look reads pg_locks,
 * and at thousands of events per second a mark per batch would read it a hundred times a second. A settle and a
 * stream check always look.
 */
const MARK_CHECKPOINT_EVERY_MS = 25;

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
  /** The lease row's final_upto as the read saw it (migration 1733900000000). */
  final_upto: string;
  /** With `walPosition`: the server's WAL insert position while the read ran. */
  wal_lsn?: string;
}

/** One read: the events, and where the server's WAL was when they were read (with `walPosition`, else null). */
export interface PendingBatch {
  records: OutboxRecord[];
  /** Every commit the read could see lies before this position (StandbyFlushGate waits for standbys to reach it). */
  walLsn: string | null;
  /**
   * Every seq at or below this was final when the read ran (committed, or never will be): a later read need not
   * look behind its cursor below it for this read's sake (ReadPosition.rescanFrom). Null when nothing was read.
   */
  finalUpto: string | null;
}

/**
 * Where a read starts, within the relay's session. `from`: the highest seq the session's reads returned (null at
 * the start of a session: the lease row's read_upto). `rescanFrom`: the lowest `finalUpto` of the session's reads
 * whose marks have not committed yet (null when there are none): events committed late behind the cursor, above it,
 * are read again before anything after them. See outbox_read_pending in migration 1733900000000.
 */
export interface ReadPosition {
  from: string | null;
  rescanFrom: string | null;
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

/** A mark with no event: the function leaves `last_published_*` as they are. */
const NO_EVENTS = { seqs: [], lastSeq: null, lastId: null } as const;

/** The lease a fenced statement runs under. */
export interface Fence {
  partition: number;
  holder: string;
  epoch: number;
}

/**
 * Reads unpublished events in seq order and records them published. Progress is kept per batch on the lease row
 * (read_upto, skipped seqs, final_upto: migration 1733900000000), never per event; a transaction that drew a lower
 * seq but committed later is still read, in order. Every statement is fenced by the lease: it does nothing unless
 * `holder` still holds `partition` at `epoch`.
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
    // A function (migration 1733900000000_progress_on_lease_row.sql): one fenced, ordered read in one round trip,
    // with its own planner settings so that no statistics can turn it into a sort of the whole backlog.
    // The WAL position is taken during the statement, so after its snapshot: a commit the read sees was written
    // to the WAL before it was visible, hence before that position.
    this.readSql = options.walPosition
      ? `SELECT r.*, pg_current_wal_insert_lsn()::text AS wal_lsn FROM "${schema}".outbox_read_pending($1, $2, $3, $4, $5, $6, $7, $8) AS r`
      : `SELECT * FROM "${schema}".outbox_read_pending($1, $2, $3, $4, $5, $6, $7, $8)`;
    // One fenced function (migration 1733900000000): the lease row is locked and updated, so a successor's
    // acquisition waits for this commit and then sees the new progress; progress is never lost or interleaved with
    // the successor's. NULL: the fence no longer holds. check_stream_from ($7) moves with every mark: where a
    // successor must look in the stream for events acknowledged but not marked (see stream-check.ts).
    this.markSql = `SELECT "${schema}".outbox_mark($1, $2, $3, $4::bigint[], $5::bigint, $6::uuid, $7::bigint, $8::boolean, $9::integer) AS n`;
    // Moves one unpublished event to the dead letters, under the same fence (and lease row lock) as a mark.
    this.deadLetterSql = `
      WITH lease AS (
        UPDATE ${this.t.partitions} SET holder = holder
        WHERE partition = $1 AND holder = $2 AND epoch = $3
        RETURNING epoch),
      moved AS (
        DELETE FROM ${this.t.outbox} o USING lease
        WHERE o.seq = $4 AND EXISTS (SELECT 1 FROM ${this.t.pendingEvents} q WHERE q.seq = $4)
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

  /**
   * readPending, with the WAL position of the read and its final_upto; `position`: where the relay's session is
   * (default: the start of a session, from the lease row).
   */
  async readPendingBatch(
    fence: Fence,
    limit: number,
    exclude: readonly string[] = [],
    position: ReadPosition = { from: null, rescanFrom: null },
  ): Promise<PendingBatch | null> {
    const { rows } = await this.pool.query<PendingRow>(this.readSql, [
      fence.partition,
      fence.holder,
      fence.epoch,
      seqArrayLiteral(exclude),
      limit,
      this.maxBatchBytes,
      position.from,
      position.rescanFrom,
    ]);
    if (rows.length === 0 && !(await this.holds(fence))) return null;
    return { records: rows.map(toRecord), walLsn: rows[0]?.wal_lsn ?? null, finalUpto: rows[0]?.final_upto ?? null };
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
    return this.mark(fence, batch, checkStreamFrom, false, 'progress update rejected: epoch superseded', MARK_CHECKPOINT_EVERY_MS);
  }

  /**
   * Moves the checkpoint that finds skipped seqs final, and read_upto over final seqs, with no event to record: the
   * relay does this now and then while its partition is idle, so that its next mark has little to look at. Throws
   * LeaseLostError when superseded.
   */
  async settleProgress(fence: Fence): Promise<void> {
    await this.mark(fence, NO_EVENTS, null, false, 'progress settle rejected: epoch superseded');
  }

  private async mark(
    fence: Fence,
    batch: MarkedBatch | typeof NO_EVENTS,
    checkStreamFrom: number | null,
    streamChecked: boolean,
    refused: string,
    checkpointEveryMs = 0,
  ): Promise<number> {
    const { rows } = await this.pool.query<{ n: number | null }>(this.markSql, [
      fence.partition,
      fence.holder,
      fence.epoch,
      seqArrayLiteral(batch.seqs),
      batch.lastSeq,
      batch.lastId,
      checkStreamFrom,
      streamChecked,
      checkpointEveryMs,
    ]);
    const recorded = rows[0]?.n ?? null;
    if (recorded === null) throw new LeaseLostError(fence.partition, fence.epoch, refused);
    return recorded;
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
    // The found events that are still pending, in seq order; the mark records them (and only them) published.
    const { rows } = await this.pool.query<{ seq: string; id: string }>(
      `SELECT q.seq::text AS seq, q.id::text AS id FROM ${this.t.pendingEvents} q
       WHERE q.partition = $1 AND q.id = ANY($2::uuid[]) ORDER BY q.seq`,
      [fence.partition, foundIds],
    );
    const last = rows[rows.length - 1];
    const batch = last ? { seqs: rows.map((r) => r.seq), lastSeq: last.seq, lastId: last.id } : NO_EVENTS;
    return this.mark(fence, batch, next, true, 'stream check refused: epoch superseded');
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
