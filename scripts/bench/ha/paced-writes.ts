// Writers committing OrderCreated events at a steady rate through the library (Outbox.transaction + enqueue, each
// event its own aggregate), for the HA steps that need traffic while they measure or fault. Event k is due at
// k / rate seconds; a writer takes every event due when it is free (at most MAX_BATCH) into one transaction, as the
// order service groups the orders that arrive while its writes are in flight: one transaction per event could not
// keep 1000/s on a loaded 2-core host (each is several round trips, and commits wait for each other's NOTIFY).
import { Pool } from 'pg';
import { Outbox } from '@outbox-relay/outbox';
import { onCleanup } from '../../lib/cleanup';
import type { BenchContext } from '../lib/context';
import { orderCreatedEvent } from '../lib/events';
import { sleep, wallMs } from '../lib/stats';

const WRITERS = 8;
const MAX_BATCH = 100;

export interface CommittedEvent {
  /** When its transaction's COMMIT had answered (wall clock, ms): a lower bound of commit → anything later. */
  committedAt: number;
  phase: string;
}

export interface PacedWrites {
  /** Events committed so far by order id (the event's aggregate id), with the phase they were written in. */
  readonly committed: Map<string, CommittedEvent>;
  /** The label the next commits get (e.g. 'warmup', 'measured'). */
  phase: string;
  /** Stops after the transactions in flight; rejects with the first failed one. */
  stop(): Promise<void>;
}

export function startPacedWrites(ctx: BenchContext, schema: string, rate: number, phase = 'measured'): PacedWrites {
  // A pool of their own: the step's own queries must not queue behind the writers.
  const pool = new Pool({ connectionString: ctx.databaseUrl, max: WRITERS, application_name: `${ctx.tag} paced writes` });
  const closePool = onCleanup('paced writes pool', () => pool.end());
  const outbox = new Outbox({ pool, schema });
  let stopping = false;
  let failure: unknown = null;
  const state = {
    committed: new Map<string, CommittedEvent>(),
    phase,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      await outbox.close();
      await closePool();
      if (failure !== null) throw new Error('a paced write failed', { cause: failure });
    },
  };
  const started = performance.now();
  /** Events taken by a writer so far; event k is due at started + k * 1000 / rate. */
  let taken = 0;
  const loops = Array.from({ length: WRITERS }, async () => {
    while (!stopping && failure === null) {
      const due = Math.floor(((performance.now() - started) * rate) / 1000);
      if (taken >= due) {
        await sleep(Math.max(0, started + ((taken + 1) * 1000) / rate - performance.now()));
        continue;
      }
      const count = Math.min(MAX_BATCH, due - taken);
      taken += count;
      const events = Array.from({ length: count }, () => orderCreatedEvent());
      const batchPhase = state.phase;
      try {
        await outbox.transaction((tx) => outbox.enqueue(tx, events));
        const at = wallMs();
        for (const event of events) state.committed.set(event.aggregateId, { committedAt: at, phase: batchPhase });
      } catch (error) {
        failure ??= error;
      }
    }
  });
  return state;
}
