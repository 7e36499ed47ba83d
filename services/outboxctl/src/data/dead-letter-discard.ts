import type { Pool } from 'pg';
import { withTransaction } from '@outbox-relay/outbox';
import type { DeadLetterRef } from '../ids';
import { readDeadLetter } from './dead-letters';
import { assertOpen, markResolved } from './resolve';
import type { Tables } from './tables';

export interface DeadLetterDiscard {
  id: string;
  kind: 'relay' | 'consumer';
  consumer: string | null;
  eventId: string;
  resolvedAt: Date;
}

/** Resolves a dead letter as 'discarded' with an optional note: the event is given up for good (nothing is published). */
export async function discardDeadLetter(pool: Pool, t: Tables, ref: DeadLetterRef, note: string | null = null): Promise<DeadLetterDiscard> {
  return withTransaction(pool, async (tx) => {
    const dl = await readDeadLetter(tx, t, ref, true);
    assertOpen(dl);
    const resolvedAt = await markResolved(tx, t, dl, 'discarded', note);
    return { id: dl.id, kind: dl.kind, consumer: dl.consumer, eventId: dl.eventId, resolvedAt };
  });
}
