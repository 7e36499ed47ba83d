import type { Pool, PoolClient } from 'pg';
import { formatDeadLetterId, type DeadLetterKind, type DeadLetterRef } from '../ids';
import { NotFoundError } from '../errors';
import { inboxMigrated, requireInbox, type Tables } from './tables';

export type DeadLetterStatus = 'open' | 'replayed' | 'discarded';

/** What `dlq list` shows: one dead letter of either kind. */
export interface DeadLetterSummary {
  /** `r<n>` or `c<n>`. */
  id: string;
  kind: DeadLetterKind;
  /** The consumer that gave up on the event; null for relay dead letters. */
  consumer: string | null;
  eventId: string;
  eventType: string;
  aggregateType: string | null;
  aggregateId: string | null;
  reason: string;
  attempts: number;
  failedAt: Date;
  status: DeadLetterStatus;
  resolvedAt: Date | null;
  /** Why it was resolved (`dlq discard --reason`), when someone said. */
  resolutionNote: string | null;
}

/** What `dlq show` adds. */
export interface DeadLetterDetail extends DeadLetterSummary {
  /** Relay: the outbox seq and partition the event had. */
  seq: string | null;
  partition: number | null;
  /** Relay: the epoch of the leader that gave up. */
  failedEpoch: number | null;
  /** Relay: when the event was written to the outbox. */
  createdAt: Date | null;
  /** Consumer: where the event came from in the stream. */
  subject: string | null;
  streamSeq: string | null;
  /** False for a consumer dead letter whose payload could not be parsed (payload is null then; see rawPayload). */
  payloadParsed: boolean;
  payload: unknown;
  /** The payload's JSON text as stored: the bytes the event was (or would have been) published with. */
  payloadText: string | null;
  rawPayload: string | null;
  headers: Record<string, string>;
}

export interface ListFilter {
  kind?: DeadLetterKind;
  /** Only this consumer's dead letters (implies kind consumer). */
  consumer?: string;
  includeResolved: boolean;
  limit: number;
}

export interface DeadLetterList {
  deadLetters: DeadLetterSummary[];
  /** More matched than `limit`. */
  truncated: boolean;
  /** False when the inbox tables do not exist (consumer dead letters could not be listed). */
  inboxMigrated: boolean;
}

interface Row {
  id: string;
  consumer: string | null;
  event_id: string;
  event_type: string;
  aggregate_type: string | null;
  aggregate_id: string | null;
  reason: string;
  attempts: number;
  failed_at: Date;
  resolved_at: Date | null;
  resolution: 'replayed' | 'discarded' | null;
  resolution_note: string | null;
  seq: string | null;
  partition: number | null;
  failed_epoch: string | null;
  created_at: Date | null;
  subject: string | null;
  stream_seq: string | null;
  payload: unknown;
  payload_text: string | null;
  payload_parsed: boolean;
  raw_payload: string | null;
  headers: Record<string, string>;
}

// Ids are selected as text (bigint); ORDER BY must name the table's column (d.id), not the text alias.
const COMMON = `id::text AS id, event_id::text AS event_id, event_type, aggregate_type, aggregate_id, reason, attempts,
  failed_at, resolved_at, resolution, resolution_note`;

function selectRelay(t: Tables, detail: boolean): string {
  const extra = detail
    ? `, seq::text AS seq, partition, failed_epoch::text AS failed_epoch, created_at, NULL::text AS subject,
       NULL::text AS stream_seq, payload, payload::text AS payload_text, true AS payload_parsed, NULL::text AS raw_payload,
       headers`
    : '';
  return `SELECT NULL::text AS consumer, ${COMMON}${extra} FROM ${t.outbox.deadLetters} d`;
}

function selectConsumer(t: Tables, detail: boolean): string {
  const extra = detail
    ? `, NULL::text AS seq, NULL::int AS partition, NULL::text AS failed_epoch, NULL::timestamptz AS created_at,
       subject, stream_seq::text AS stream_seq, payload, payload::text AS payload_text, payload IS NOT NULL AS payload_parsed,
       raw_payload, headers`
    : '';
  return `SELECT consumer, ${COMMON}${extra} FROM ${t.inbox.deadLetters} d`;
}

function summary(kind: DeadLetterKind, r: Row): DeadLetterSummary {
  return {
    id: formatDeadLetterId({ kind, id: r.id }),
    kind,
    consumer: r.consumer,
    eventId: r.event_id,
    eventType: r.event_type,
    aggregateType: r.aggregate_type,
    aggregateId: r.aggregate_id,
    reason: r.reason,
    attempts: r.attempts,
    failedAt: r.failed_at,
    status: r.resolution ?? 'open',
    resolvedAt: r.resolved_at,
    resolutionNote: r.resolution_note,
  };
}

export async function listDeadLetters(pool: Pool, t: Tables, filter: ListFilter): Promise<DeadLetterList> {
  const kind = filter.consumer !== undefined ? 'consumer' : filter.kind;
  const out: DeadLetterSummary[] = [];
  let truncated = false;
  const take = (k: DeadLetterKind, rows: Row[]) => {
    for (const row of rows) {
      if (out.length === filter.limit) {
        truncated = true;
        return;
      }
      out.push(summary(k, row));
    }
  };
  if (kind !== 'consumer') {
    const { rows } = await pool.query<Row>(
      `${selectRelay(t, false)} WHERE ($1 OR resolved_at IS NULL) ORDER BY d.id LIMIT $2`,
      [filter.includeResolved, filter.limit + 1],
    );
    take('relay', rows);
  }
  const inbox = await inboxMigrated(pool, t.inbox);
  if (kind !== 'relay' && inbox && !truncated) {
    const { rows } = await pool.query<Row>(
      `${selectConsumer(t, false)} WHERE ($1 OR resolved_at IS NULL) AND ($2::text IS NULL OR consumer = $2)
       ORDER BY d.id LIMIT $3`,
      [filter.includeResolved, filter.consumer ?? null, filter.limit + 1 - out.length],
    );
    take('consumer', rows);
  }
  if (kind === 'consumer' && !inbox) await requireInbox(pool, t);
  return { deadLetters: out, truncated, inboxMigrated: inbox };
}

/** Reads one dead letter; `lock` takes a row lock (inside the caller's transaction). Throws NotFoundError. */
export async function readDeadLetter(
  db: Pool | PoolClient,
  t: Tables,
  ref: DeadLetterRef,
  lock = false,
): Promise<DeadLetterDetail> {
  if (ref.kind === 'consumer') await requireInbox(db, t);
  const select = ref.kind === 'relay' ? selectRelay(t, true) : selectConsumer(t, true);
  const { rows } = await db.query<Row>(`${select} WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [ref.id]);
  const row = rows[0];
  if (!row) throw deadLetterNotFound(ref);
  return {
    ...summary(ref.kind, row),
    seq: row.seq,
    partition: row.partition,
    failedEpoch: row.failed_epoch === null ? null : Number(row.failed_epoch),
    createdAt: row.created_at,
    subject: row.subject,
    streamSeq: row.stream_seq,
    payloadParsed: row.payload_parsed,
    payload: row.payload,
    payloadText: row.payload_text,
    rawPayload: row.raw_payload,
    headers: row.headers,
  };
}

/** Checks that every id exists before anything is changed, so a typo in a list of ids changes nothing. */
export async function assertDeadLettersExist(pool: Pool, t: Tables, refs: readonly DeadLetterRef[]): Promise<void> {
  const ids = (kind: DeadLetterKind) => refs.filter((r) => r.kind === kind).map((r) => r.id);
  const missing: DeadLetterRef[] = [];
  for (const kind of ['relay', 'consumer'] as const) {
    const wanted = ids(kind);
    if (wanted.length === 0) continue;
    if (kind === 'consumer') await requireInbox(pool, t);
    const table = kind === 'relay' ? t.outbox.deadLetters : t.inbox.deadLetters;
    const { rows } = await pool.query<{ id: string }>(`SELECT id::text AS id FROM ${table} WHERE id = ANY($1::bigint[])`, [wanted]);
    const found = new Set(rows.map((r) => r.id));
    missing.push(...wanted.filter((id) => !found.has(id)).map((id) => ({ kind, id })));
  }
  if (missing.length === 1) throw deadLetterNotFound(missing[0]!);
  if (missing.length > 1) {
    throw new NotFoundError('dead letter', `no such dead letters: ${missing.map(formatDeadLetterId).join(', ')}; nothing changed`);
  }
}

/** Open dead letters for `dlq replay --all`: relay ones in their original seq order, so an aggregate's events
 * go back into the outbox in the order they were first written. */
export async function openDeadLetterRefs(
  pool: Pool,
  t: Tables,
  filter: { kind?: DeadLetterKind; consumer?: string },
): Promise<DeadLetterRef[]> {
  const refs: DeadLetterRef[] = [];
  const kind = filter.consumer !== undefined ? 'consumer' : filter.kind;
  if (kind !== 'consumer') {
    const { rows } = await pool.query<{ id: string }>(
      `SELECT d.id::text AS id FROM ${t.outbox.deadLetters} d WHERE d.resolved_at IS NULL ORDER BY d.seq, d.id`,
    );
    refs.push(...rows.map((r) => ({ kind: 'relay' as const, id: r.id })));
  }
  if (kind !== 'relay') {
    if (kind === 'consumer') await requireInbox(pool, t);
    if (await inboxMigrated(pool, t.inbox)) {
      const { rows } = await pool.query<{ id: string }>(
        `SELECT d.id::text AS id FROM ${t.inbox.deadLetters} d
         WHERE d.resolved_at IS NULL AND ($1::text IS NULL OR d.consumer = $1) ORDER BY d.id`,
        [filter.consumer ?? null],
      );
      refs.push(...rows.map((r) => ({ kind: 'consumer' as const, id: r.id })));
    }
  }
  return refs;
}

export function deadLetterNotFound(ref: DeadLetterRef): NotFoundError {
  const where = ref.kind === 'relay' ? 'relay dead letters (outbox_dead_letters)' : 'consumer dead letters (inbox_dead_letters)';
  return new NotFoundError('dead letter', `no dead letter ${formatDeadLetterId(ref)} in the ${where}`);
}
