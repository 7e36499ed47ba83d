import type { PoolClient } from 'pg';
import { DeadLetterStateError } from '../errors';
import { parseDeadLetterId } from '../ids';
import type { DeadLetterDetail } from './dead-letters';
import type { Tables } from './tables';

export type Resolution = 'replayed' | 'discarded';

/** Refuses to act on a dead letter that someone already replayed or discarded. */
export function assertOpen(dl: DeadLetterDetail): void {
  if (dl.status !== 'open') {
    throw new DeadLetterStateError(dl.id, `already ${dl.status} at ${dl.resolvedAt?.toISOString() ?? '?'}; nothing changed`);
  }
}

/** Marks a dead letter resolved inside the caller's transaction (it holds the row lock from readDeadLetter). */
export async function markResolved(
  tx: PoolClient,
  t: Tables,
  dl: DeadLetterDetail,
  resolution: Resolution,
  note: string | null = null,
): Promise<Date> {
  const table = dl.kind === 'relay' ? t.outbox.deadLetters : t.inbox.deadLetters;
  const { rows } = await tx.query<{ resolved_at: Date }>(
    `UPDATE ${table} SET resolved_at = now(), resolution = $2, resolution_note = $3
     WHERE id = $1 AND resolved_at IS NULL RETURNING resolved_at`,
    [parseDeadLetterId(dl.id).id, resolution, note],
  );
  const row = rows[0];
  if (!row) throw new DeadLetterStateError(dl.id, 'was resolved concurrently; nothing changed');
  return row.resolved_at;
}
