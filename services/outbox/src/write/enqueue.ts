import { createHash } from 'node:crypto';
import type { ClientBase, QueryConfig } from 'pg';
import { EventValidationError, SchemaNotMigratedError } from '../errors';
import { DEFAULT_MAX_PAYLOAD_BYTES, type OutboxEventInput, prepareEvents } from './event';
import { outboxTables, type OutboxTables } from '../schema/names';
import { activeTraceHeaders } from '../telemetry';

export interface EnqueueOptions {
  /** Schema holding the outbox tables. Default `outbox`. */
  schema?: string;
  /** Limit on serialized payload + headers per event. Default 512 KiB (NATS max_payload defaults to 1 MiB). */
  maxPayloadBytes?: number;
  /**
   * Take a transaction-scoped advisory lock per aggregate before the row gets its seq (default true). This is
   * what makes seq order equal commit order for one aggregate: a second writer of the same aggregate waits for
   * the first to commit before it draws its seq. Turn off only if every writer already serializes on a row lock
   * of the aggregate taken before its first write.
   */
  serializeAggregates?: boolean;
  /**
   * Send the outbox statements as named prepared statements (default true): Postgres parses and plans them once
   * per connection instead of at every write. Turn off behind a pooler that cannot keep prepared statements
   * (PgBouncer in transaction mode before 1.21).
   */
  preparedStatements?: boolean;
}

/** Where an enqueued event landed. */
export interface EnqueuedEvent {
  id: string;
  seq: string;
  partition: number;
}

/**
 * The outbox INSERT and the CTEs it needs, with its six array parameters numbered from `$first`: event ids,
 * aggregate types, aggregate ids, event types, payloads, headers. `guard` is an optional WHERE clause on the
 * inserted rows. The advisory locks sit in a MATERIALIZED CTE joined into the SELECT, so they are all held before
 * any row reaches the INSERT, where the identity seq is drawn. Keys are sorted so two multi-aggregate writers
 * cannot deadlock on each other. The partition comes from the settings row, so all writers agree with all relays.
 */
function outboxInsertParts(t: OutboxTables, lock: boolean, first: number, guard = ''): { ctes: string; insert: string } {
  const $ = (i: number) => `$${first + i}`;
  // The partition count comes first, under the partition map's shared lock (migration
  // 1733200000000_partition_map_lock.sql), and the aggregate locks after it: the keys subquery joins the settings
  // row, so no aggregate lock is taken before the map lock is held. Taking them the other way round could
  // deadlock a writer holding an aggregate lock, waiting behind a count change, with a writer that holds the map
  // lock and wants that aggregate.
  const ctes = `settings AS MATERIALIZED (SELECT "${t.schema}".outbox_writer_partitions() AS partitions)${lock ? `,
    locks AS MATERIALIZED (
      SELECT count(pg_advisory_xact_lock(${t.lockSpace}, k)) AS held
      FROM (SELECT DISTINCT hashtext(x.t || '/' || x.a) AS k
            FROM unnest(${$(1)}::text[], ${$(2)}::text[]) AS x(t, a) CROSS JOIN settings s
            WHERE s.partitions IS NOT NULL ORDER BY 1) keys
    )` : ''}`;
  const insert = `
    INSERT INTO ${t.outbox} (id, partition, aggregate_type, aggregate_id, event_type, payload, headers)
    SELECT e.id, ((hashtextextended(e.t || '/' || e.a, 0) % st.partitions) + st.partitions) % st.partitions,
           e.t, e.a, e.ty, e.p, e.h
    FROM unnest(${$(0)}::uuid[], ${$(1)}::text[], ${$(2)}::text[], ${$(3)}::text[], ${$(4)}::json[], ${$(5)}::jsonb[])
         WITH ORDINALITY AS e(id, t, a, ty, p, h, ord)
    CROSS JOIN settings st ${lock ? 'CROSS JOIN locks' : ''}
    ${guard}
    ORDER BY e.ord
    RETURNING id, seq::text AS seq, partition`;
  return { ctes, insert };
}

const enqueueStatements = new Map<string, string>();

function enqueueStatement(t: OutboxTables, lock: boolean): string {
  const key = `${t.schema}:${lock}`;
  let sql = enqueueStatements.get(key);
  if (!sql) {
    const { ctes, insert } = outboxInsertParts(t, lock, 1);
    sql = `WITH ${ctes} ${insert}`;
    enqueueStatements.set(key, sql);
  }
  return sql;
}

/** The column that carries the written events in the rows of an atomic write. */
const EVENTS_COLUMN = 'outbox_written_events';

/**
 * One business statement and the outbox INSERT as ONE SQL statement: the business statement runs as a
 * data-modifying CTE, and the events are inserted only if it returned a row. The written events come back once,
 * on the first row (not repeated on every business row).
 */
function atomicWriteStatement(t: OutboxTables, lock: boolean, business: string, businessParams: number): string {
  const { ctes, insert } = outboxInsertParts(t, lock, businessParams + 1, 'WHERE EXISTS (SELECT 1 FROM business)');
  return `WITH business AS (${business}),
    ${ctes},
    written AS (${insert})
    SELECT b.*,
           CASE WHEN row_number() OVER () = 1
                THEN (SELECT coalesce(json_agg(w ORDER BY w.seq::bigint), '[]'::json) FROM written w) END AS ${EVENTS_COLUMN}
    FROM business b`;
}

/**
 * A name for a statement text, so pg prepares it once per connection and then only binds and executes it
 * (the outbox INSERT is costly to plan). Distinct texts get distinct names; names stay under Postgres's 63.
 */
const statementNames = new Map<string, string>();

function statementName(kind: string, sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    // Bounded in case a caller builds business texts dynamically (they would not be worth preparing anyway).
    if (statementNames.size >= 1000) statementNames.clear();
    name = `outbox_${kind}_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
    statementNames.set(sql, name);
  }
  return name;
}

/**
 * Events written while a span is active (an HTTP request, a consumer handling an event) carry its W3C trace context
 * unless they name one themselves, so the relay's publish and every consumer join the writer's trace. Without an
 * OpenTelemetry SDK the active context is empty and events are left as they are.
 */
function withActiveTrace(events: OutboxEventInput | OutboxEventInput[]): OutboxEventInput | OutboxEventInput[] {
  const trace = activeTraceHeaders();
  if (!trace.traceparent) return events;
  const add = (e: OutboxEventInput): OutboxEventInput =>
    e && typeof e === 'object' && !e.headers?.traceparent ? { ...e, headers: { ...e.headers, ...trace } } : e;
  return Array.isArray(events) ? events.map(add) : add(events);
}

/** Validated events as the six arrays the outbox INSERT binds. */
function insertParams(events: OutboxEventInput | OutboxEventInput[], options: EnqueueOptions): unknown[] {
  const prepared = prepareEvents(withActiveTrace(events), options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES);
  const seen = new Set<string>();
  for (const [index, event] of prepared.entries()) {
    if (seen.has(event.id)) {
      throw new EventValidationError([{ path: `[${index}].id`, message: `duplicate event id ${event.id}` }]);
    }
    seen.add(event.id);
  }
  return [
    prepared.map((e) => e.id),
    prepared.map((e) => e.aggregateType),
    prepared.map((e) => e.aggregateId),
    prepared.map((e) => e.eventType),
    prepared.map((e) => e.payloadJson),
    prepared.map((e) => e.headersJson),
  ];
}

function query(kind: string, text: string, values: unknown[], options: EnqueueOptions): QueryConfig {
  return options.preparedStatements === false ? { text, values } : { name: statementName(kind, text), text, values };
}

/**
 * A missing outbox schema, table or function becomes a SchemaNotMigratedError; anything else is rethrown as it is.
 * Postgres names the schema alone when it does not exist (3F000), the table or function when the schema does.
 */
function schemaErrorOr(error: unknown, t: OutboxTables): unknown {
  const e = error as { code?: string; message?: string };
  const message = e.message ?? '';
  if ((e.code === '42P01' && message.includes(`"${t.schema}.outbox`)) || (e.code === '3F000' && message.includes(`"${t.schema}"`))) {
    return new SchemaNotMigratedError(t.schema, 'outbox tables not found', { cause: error });
  }
  if (e.code === '42883' && message.includes('outbox_writer_partitions')) {
    return new SchemaNotMigratedError(t.schema, 'the outbox schema is older than this library', { cause: error });
  }
  return error;
}

/**
 * Writes events into the outbox inside the caller's open transaction, so they exist if and only if that
 * transaction commits. Validates everything first: on bad input it throws `EventValidationError` (or
 * `PayloadTooLargeError`) and writes nothing. Events of one call keep their order.
 */
export async function enqueue(
  client: ClientBase,
  events: OutboxEventInput | OutboxEventInput[],
  options: EnqueueOptions = {},
): Promise<EnqueuedEvent[]> {
  const t = outboxTables(options.schema ?? 'outbox');
  const values = insertParams(events, options);
  const sql = enqueueStatement(t, options.serializeAggregates ?? true);
  try {
    const { rows } = await client.query<EnqueuedEvent>(query('enqueue', sql, values, options));
    return rows;
  } catch (error) {
    throw schemaErrorOr(error, t);
  }
}

/** One business statement: a single INSERT, UPDATE or DELETE with a RETURNING clause, parameters `$1`..`$n`. */
export interface BusinessStatement {
  text: string;
  values: unknown[];
}

export interface AtomicWriteResult<R> {
  /** The business statement's RETURNING rows. */
  rows: R[];
  /** The events written, in order; none when the business statement returned no row. */
  events: EnqueuedEvent[];
}

/**
 * Runs `business` and writes `events` as ONE SQL statement, atomic on its own: no BEGIN/COMMIT round trips, so
 * one round trip where a transaction takes four. The events are written only if the business statement
 * returns at least one row (a conditional UPDATE that matches nothing writes no event). The same per-aggregate
 * lock as `enqueue` keeps seq order equal to commit order. Must run outside a transaction block to commit at
 * once (inside one it simply joins it). Bad events throw before anything is sent.
 */
export async function writeAtomically<R extends object>(
  db: Pick<ClientBase, 'query'>,
  business: BusinessStatement,
  events: OutboxEventInput | OutboxEventInput[],
  options: EnqueueOptions = {},
): Promise<AtomicWriteResult<R>> {
  const t = outboxTables(options.schema ?? 'outbox');
  if (!/\breturning\b/i.test(business.text)) {
    throw new EventValidationError([{ path: 'business.text', message: 'must be one INSERT, UPDATE or DELETE with a RETURNING clause' }]);
  }
  const values = [...business.values, ...insertParams(events, options)];
  const sql = atomicWriteStatement(t, options.serializeAggregates ?? true, business.text, business.values.length);
  let rows: (R & { [EVENTS_COLUMN]?: EnqueuedEvent[] })[];
  try {
    ({ rows } = await db.query<R & { [EVENTS_COLUMN]?: EnqueuedEvent[] }>(query('write', sql, values, options)));
  } catch (error) {
    throw schemaErrorOr(error, t);
  }
  const written = rows[0]?.[EVENTS_COLUMN] ?? [];
  for (const row of rows) delete row[EVENTS_COLUMN];
  return { rows, events: written };
}
