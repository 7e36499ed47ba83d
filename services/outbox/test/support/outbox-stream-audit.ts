import type { Pool } from 'pg';
import type { StoredMessage } from '@outbox-relay/test-support';
import type { StepPayload } from './steady-writers';

/** What is wrong, each list capped (with the total count) so that a failure stays readable. */
export interface AuditProblems {
  /** Committed (a row in the outbox), never stored. */
  missing: string[];
  /** Stored more than once. */
  duplicated: string[];
  /** Stored, but no such row: nobody committed it. */
  unknown: string[];
  /** An aggregate whose events the stream holds in another order than they committed (seq order, writer's n). */
  reordered: string[];
  /** Rows still waiting to be published. */
  unpublished: number;
  /** Events the relay gave up on: faults of the cluster are transient, never a reason to dead-letter. */
  deadLettered: number;
  /** An aggregate whose writer committed another count of events than the outbox holds. */
  writerMismatch: string[];
}

export interface OutboxStreamAudit {
  committed: number;
  stored: number;
  aggregates: number;
  problems: AuditProblems;
}

export const NO_PROBLEMS: AuditProblems = { missing: [], duplicated: [], unknown: [], reordered: [], unpublished: 0, deadLettered: 0, writerMismatch: [] };

const SHOWN = 10;

/** At most SHOWN entries, and a last one saying how many more there were. */
function capped(list: string[]): string[] {
  return list.length <= SHOWN ? list : [...list.slice(0, SHOWN), `... ${list.length - SHOWN} more`];
}

/**
 * Holds the whole stream against the outbox: every row exactly once (by event id = Nats-Msg-Id), each aggregate's
 * events in seq order (their commit order: writers of one aggregate are serialized on it) and, when the writers'
 * own counts are given, exactly that aggregate's steps 1..k; nothing unpublished or dead-lettered.
 */
export async function auditOutboxAgainstStream(
  pool: Pool,
  schema: string,
  messages: readonly StoredMessage[],
  writersCommitted?: ReadonlyMap<string, number>,
): Promise<OutboxStreamAudit> {
  // Every event, pending or published (the event state views: together they are the outbox).
  const { rows } = await pool.query<{ id: string; aggregate_id: string; published: boolean }>(
    `SELECT id::text, aggregate_id, published
     FROM (SELECT seq, id, aggregate_id, false AS published FROM "${schema}".outbox_pending
           UNION ALL
           SELECT seq, id, aggregate_id, true AS published FROM "${schema}".outbox_published) o
     ORDER BY seq`,
  );
  const letters = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".outbox_dead_letters`);

  const timesStored = new Map<string, number>();
  for (const m of messages) timesStored.set(m.eventId, (timesStored.get(m.eventId) ?? 0) + 1);
  const committedIds = new Set(rows.map((r) => r.id));
  const missing = rows.filter((r) => !timesStored.has(r.id)).map((r) => `${r.id} (${r.aggregate_id}${r.published ? ', marked published' : ''})`);
  const duplicated = [...timesStored].filter(([, times]) => times > 1).map(([id, times]) => `${id} stored ${times} times`);
  const unknown = [...timesStored.keys()].filter((id) => !committedIds.has(id));

  const committedOrder = groupIds(rows.map((r) => ({ aggregate: r.aggregate_id, id: r.id })));
  const storedOrder = groupIds(messages.map((m) => ({ aggregate: m.aggregateId, id: m.eventId })));
  const reordered: string[] = [];
  for (const [aggregate, ids] of committedOrder) {
    const firstCopies = [...new Set(storedOrder.get(aggregate) ?? [])].filter((id) => committedIds.has(id));
    const present = ids.filter((id) => timesStored.has(id));
    const at = present.findIndex((id, i) => firstCopies[i] !== id);
    if (at >= 0) reordered.push(`${aggregate}: commit order has ${present[at]} at position ${at}, the stream ${firstCopies[at]}`);
  }

  const writerMismatch: string[] = [];
  if (writersCommitted) {
    for (const [aggregate, count] of writersCommitted) {
      const inOutbox = committedOrder.get(aggregate)?.length ?? 0;
      if (inOutbox !== count) writerMismatch.push(`${aggregate}: writer committed ${count}, outbox holds ${inOutbox}`);
      const seen = new Set<string>();
      const steps = messages
        .filter((m) => m.aggregateId === aggregate && !seen.has(m.eventId) && seen.add(m.eventId))
        .map((m) => (m.data as StepPayload).n);
      const expected = Array.from({ length: count }, (_, i) => i + 1);
      if (steps.join(',') !== expected.join(',') && !reordered.some((r) => r.startsWith(`${aggregate}:`))) {
        reordered.push(`${aggregate}: steps in stream order ${steps.slice(0, 20).join(',')}${steps.length > 20 ? ',...' : ''}, committed 1..${count}`);
      }
    }
  }

  return {
    committed: rows.length,
    stored: messages.length,
    aggregates: committedOrder.size,
    problems: {
      missing: capped(missing),
      duplicated: capped(duplicated),
      unknown: capped(unknown),
      reordered: capped(reordered),
      unpublished: rows.filter((r) => !r.published).length,
      deadLettered: letters.rows[0]!.n,
      writerMismatch: capped(writerMismatch),
    },
  };
}

function groupIds(entries: Iterable<{ aggregate: string; id: string }>): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const { aggregate, id } of entries) {
    const list = groups.get(aggregate);
    if (list) list.push(id);
    else groups.set(aggregate, [id]);
  }
  return groups;
}
