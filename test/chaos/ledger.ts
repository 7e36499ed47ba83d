/**
 * What the writers know about every event they tried to write. The auditor holds the stream against it; where the
 * writer cannot know (the connection failed during COMMIT), the database decides.
 */

export type Fate =
  /** COMMIT succeeded. */
  | 'committed'
  /** Rolled back on purpose, or failed before COMMIT was sent (then the server rolled it back). */
  | 'rolledBack'
  /** COMMIT was sent and failed: it may or may not have committed. */
  | 'ambiguous'
  /** Transaction still open. */
  | 'open';

export type TxShape = 'single' | 'multi' | 'cross' | 'xid-first' | 'long' | 'burst';

export interface TrackedEvent {
  id: string;
  aggregate: string;
  /** The aggregate's version this event carries (from `UPDATE … RETURNING version`). */
  version: number;
  tx: number;
  shape: TxShape;
  fate: Fate;
}

export type PoisonKind = 'oversize' | 'linebreak';

export interface PoisonEvent {
  id: string;
  kind: PoisonKind;
  aggregateId: string;
  insertedAtMs: number;
}

export class EventLedger {
  readonly events = new Map<string, TrackedEvent>();
  readonly poison = new Map<string, PoisonEvent>();
  private nextTx = 0;

  newTx(): number {
    return ++this.nextTx;
  }

  add(event: Omit<TrackedEvent, 'fate'>): void {
    this.events.set(event.id, { ...event, fate: 'open' });
  }

  settle(ids: readonly string[], fate: Exclude<Fate, 'open'>): void {
    for (const id of ids) {
      const event = this.events.get(id);
      if (event) event.fate = fate;
    }
  }

  addPoison(event: PoisonEvent): void {
    this.poison.set(event.id, event);
  }

  counts(): Record<Fate, number> {
    const counts: Record<Fate, number> = { committed: 0, rolledBack: 0, ambiguous: 0, open: 0 };
    for (const event of this.events.values()) counts[event.fate]++;
    return counts;
  }
}
