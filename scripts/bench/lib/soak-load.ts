// The soak's load beside the relay: producers that keep a backlog ahead of it, a VACUUM loop standing in for
// autovacuum where the server has it off, and the outbox table's size.
import { randomUUID } from 'node:crypto';
import { Outbox, outboxTables } from '@outbox-relay/outbox';
import type { BenchContext } from './context';
import { orderCreatedPayload } from './events';
import { sleep } from './stats';

const PRODUCERS = 2;
const EVENTS_PER_TX = 200;
const AGGREGATES = 50_000;

export interface Producers {
  /** Events committed so far. */
  enqueued: number;
  error: unknown;
  /** Settles once `total` events are enqueued (or one failed) and the producers' pool is closed. */
  done: Promise<void>;
}

/** Enqueues until `total` events exist, never more than `backlog` ahead of `published()`. */
export function startProducers(ctx: BenchContext, schema: string, total: number, backlog: number, published: () => number): Producers {
  const outbox = new Outbox({ pool: ctx.pool, schema });
  const state: Producers = { enqueued: 0, error: null, done: Promise.resolve() };
  let claimed = 0;
  const workers = Array.from({ length: PRODUCERS }, async () => {
    while (claimed < total && !state.error) {
      if (claimed - published() >= backlog) {
        await sleep(10);
        continue;
      }
      const first = claimed;
      const size = Math.min(EVENTS_PER_TX, total - first);
      claimed += size;
      const events = Array.from({ length: size }, (_, k) => {
        const aggregateId = `order-${(first + k) % AGGREGATES}`;
        return { aggregateType: 'Order', aggregateId, eventType: 'OrderCreated', payload: orderCreatedPayload(randomUUID()) };
      });
      try {
        await outbox.transaction((tx) => outbox.enqueue(tx, events));
        state.enqueued += size;
      } catch (error) {
        state.error = error ?? new Error('enqueue failed');
      }
    }
  });
  state.done = Promise.all(workers).then(() => outbox.close());
  return state;
}

export interface Vacuuming {
  runs: number;
  /** Time spent in VACUUM so far (ms). */
  totalMs: number;
  error: unknown;
  stop(): Promise<void>;
}

/** VACUUM (ANALYZE) of the outbox's tables every `everyMs` until `stop()`; stands in for autovacuum when it is off. */
export function startVacuuming(ctx: BenchContext, schema: string, everyMs: number): Vacuuming {
  let active = true;
  const state: Vacuuming = {
    runs: 0,
    totalMs: 0,
    error: null,
    async stop() {
      active = false;
      await loop;
    },
  };
  const loop = (async () => {
    while (active) {
      await sleep(everyMs);
      if (!active) break;
      try {
        const started = performance.now();
        // Every table the relay writes as it goes, as autovacuum would: the events (retention deletes them), the
        // marks (one inserted per batch, deleted with its events) and the lease rows (updated at every mark).
        const t = outboxTables(schema);
        await ctx.pool.query(`VACUUM (ANALYZE) ${t.outbox}, ${t.marks}, ${t.partitions}`);
        state.totalMs += performance.now() - started;
        state.runs++;
      } catch (error) {
        state.error = error ?? new Error('VACUUM failed');
        return;
      }
    }
  })();
  return state;
}

/** The outbox table's size with its indexes, its live and dead rows, and how often it was vacuumed. */
export async function tableStats(ctx: BenchContext, schema: string): Promise<{ mib: number; live: number; dead: number; vacuums: number }> {
  const { rows } = await ctx.pool.query<{ bytes: string; live: number | null; dead: number | null; vacuums: number | null }>(
    `SELECT pg_total_relation_size(c.oid) AS bytes, s.n_live_tup::int AS live, s.n_dead_tup::int AS dead,
            (s.autovacuum_count + s.vacuum_count)::int AS vacuums
       FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
      WHERE c.oid = $1::regclass`,
    [outboxTables(schema).outbox],
  );
  const row = rows[0]!;
  return { mib: Number(row.bytes) / 2 ** 20, live: row.live ?? 0, dead: row.dead ?? 0, vacuums: row.vacuums ?? 0 };
}
