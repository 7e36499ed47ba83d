import type { ClientBase } from 'pg';
import { EventValidationError, SchemaError } from './errors';
import { DEFAULT_MAX_PAYLOAD_BYTES, type OutboxEventInput, prepareEvents } from './event';
import { outboxTables, type OutboxTables } from './names';
import { activeTraceHeaders } from './telemetry';

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
}

/** Where an enqueued event landed. */
export interface EnqueuedEvent {
  id: string;
  seq: string;
  partition: number;
}

const statements = new Map<string, string>();

function insertStatement(t: OutboxTables, lock: boolean): string {
  const key = `${t.schema}:${lock}`;
  let sql = statements.get(key);
  if (sql) return sql;
  // The advisory locks sit in a MATERIALIZED CTE joined into the SELECT, so they are all held before any row
  // reaches the INSERT, where the identity seq is drawn. Keys are sorted so two multi-aggregate writers cannot
  // deadlock on each other. The partition comes from the settings row, so all writers agree with all relays.
  sql = `
    WITH ${lock ? `locks AS MATERIALIZED (
      SELECT count(pg_advisory_xact_lock(${t.lockSpace}, k)) AS held
      FROM (SELECT DISTINCT hashtext(t || '/' || a) AS k FROM unnest($2::text[], $3::text[]) AS x(t, a) ORDER BY 1) keys
    ),` : ''}
    settings AS (SELECT partitions FROM ${t.settings})
    INSERT INTO ${t.outbox} (id, partition, aggregate_type, aggregate_id, event_type, payload, headers)
    SELECT e.id, ((hashtextextended(e.t || '/' || e.a, 0) % st.partitions) + st.partitions) % st.partitions,
           e.t, e.a, e.ty, e.p, e.h
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[])
         WITH ORDINALITY AS e(id, t, a, ty, p, h, ord)
    CROSS JOIN settings st ${lock ? 'CROSS JOIN locks' : ''}
    ORDER BY e.ord
    RETURNING id, seq::text AS seq, partition`;
  statements.set(key, sql);
  return sql;
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
  const prepared = prepareEvents(withActiveTrace(events), options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES);
  const seen = new Set<string>();
  for (const [index, event] of prepared.entries()) {
    if (seen.has(event.id)) {
      throw new EventValidationError([{ path: `[${index}].id`, message: `duplicate event id ${event.id}` }]);
    }
    seen.add(event.id);
  }
  try {
    const { rows } = await client.query<EnqueuedEvent>(insertStatement(t, options.serializeAggregates ?? true), [
      prepared.map((e) => e.id),
      prepared.map((e) => e.aggregateType),
      prepared.map((e) => e.aggregateId),
      prepared.map((e) => e.eventType),
      prepared.map((e) => e.payloadJson),
      prepared.map((e) => e.headersJson),
    ]);
    return rows;
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') {
      throw new SchemaError(t.schema, 'outbox tables not found; run `outbox migrate` first', { cause: error });
    }
    throw error;
  }
}
