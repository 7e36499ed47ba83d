// (8) Horizontal scale (issue 7): drain rate of one backlog spread over 8 partitions with 1, 2 and 4 relay
// processes, and the publishing pause of each partition handed over when a relay joins a running group.
//
// Rate: the relays start on an empty outbox and balance (every partition held, counts differing by at most one);
// then the whole backlog is committed in ONE transaction, so it appears at once, and the rate is counted from that
// commit to the last mark (database clock): neither process start-up, rebalancing nor the fill is in the figure.
// Hand-over pause: for each partition whose epoch changed after the extra relay joined, the time between the last
// event published under the old epoch and the first under the new one (published_at of outbox_published, database
// clock).
import { migrateOutbox, Outbox, outboxTables } from '@outbox-relay/outbox';
import type { BenchContext } from '../lib/context';
import { orderCreatedEvent } from '../lib/events';
import { dropSchemaLater, pendingCount, schemaName, streamFor } from '../lib/resources';
import { startRelayProcess, type RelayProcess } from '../lib/services';
import { sleep, summarize, type Summary } from '../lib/stats';

const PARTITIONS = 8;
const REPLICAS = [1, 2, 4];

export interface ScaleOutFigures {
  partitions: number;
  runs: Array<{ replicas: number; rate: number }>;
  handOver: { balancedMs: number; moved: number; pauses: Summary };
}

/** Commits `n` events in one transaction (1000 per INSERT); returns the commit time on the database clock. */
async function commitBacklog(ctx: BenchContext, schema: string, n: number): Promise<number> {
  const outbox = new Outbox({ pool: ctx.pool, schema, serializeAggregates: false });
  try {
    await outbox.transaction(async (tx) => {
      for (let i = 0; i < n; i += 1000) await outbox.enqueue(tx, Array.from({ length: Math.min(1000, n - i) }, () => orderCreatedEvent()));
    });
  } finally {
    await outbox.close();
  }
  const { rows } = await ctx.pool.query<{ ms: string }>('SELECT extract(epoch FROM now()) * 1000 AS ms');
  // Autovacuum (off on the development machine) would analyze a table that just grew this much; without
  // statistics the relay's reads fall back to a bitmap scan plus sort of every pending row.
  await ctx.pool.query(`ANALYZE ${outboxTables(schema).outbox}`);
  return Number(rows[0]!.ms);
}

interface PartitionRow {
  partition: number;
  holder: string | null;
  epoch: number;
  total: string;
  last_ms: string | null;
  now_ms: string;
}

async function groupState(ctx: BenchContext, schema: string) {
  const { rows } = await ctx.pool.query<PartitionRow>(
    `SELECT partition, CASE WHEN expires_at > now() THEN holder END AS holder, epoch::int AS epoch,
            published_total::bigint AS total, extract(epoch FROM last_published_at) * 1000 AS last_ms,
            extract(epoch FROM now()) * 1000 AS now_ms
       FROM ${outboxTables(schema).partitions} ORDER BY partition`,
  );
  const per = new Map<string, number>();
  for (const r of rows) if (r.holder) per.set(r.holder, (per.get(r.holder) ?? 0) + 1);
  const counts = [...per.values()];
  return {
    rows,
    total: rows.reduce((n, r) => n + Number(r.total), 0),
    lastMs: Math.max(...rows.map((r) => Number(r.last_ms ?? 0))),
    nowMs: Number(rows[0]?.now_ms ?? Date.now()),
    holders: per.size,
    balanced: rows.every((r) => r.holder) && counts.length > 0 && Math.max(...counts) - Math.min(...counts) <= 1,
  };
}

async function prepare(ctx: BenchContext, suffix: string) {
  const schema = schemaName(ctx, suffix);
  dropSchemaLater(ctx, schema);
  await migrateOutbox({ pool: ctx.pool, schema, partitions: PARTITIONS });
  return { schema, stream: streamFor(ctx, suffix) };
}

async function balanced(ctx: BenchContext, schema: string, replicas: number, what: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const state = await groupState(ctx, schema);
    if (state.balanced && state.holders === replicas) return state;
    if (Date.now() > deadline) throw new Error(`${what}: ${replicas} relays did not balance within 30 s`);
    await sleep(50);
  }
}

async function drained(ctx: BenchContext, schema: string, n: number, what: string) {
  const deadline = Date.now() + Math.max(60_000, n * 2);
  for (;;) {
    const state = await groupState(ctx, schema);
    if (state.total >= n) return state;
    if (Date.now() > deadline) {
      const pending = await ctx.pool.query(`SELECT partition, count(*)::int AS n FROM ${outboxTables(schema).pendingEvents} GROUP BY 1 ORDER BY 1`);
      throw new Error(
        `${what}: ${state.total} of ${n} published before the deadline; leases ${JSON.stringify(state.rows.map((r) => [r.partition, r.holder, r.epoch, Number(r.total)]))}; pending ${JSON.stringify(pending.rows)}`,
      );
    }
    await sleep(50);
  }
}

async function drainWith(ctx: BenchContext, replicas: number, n: number) {
  const { schema, stream } = await prepare(ctx, `scale${replicas}`);
  const relays: RelayProcess[] = [];
  try {
    for (let i = 0; i < replicas; i++) relays.push(await startRelayProcess(ctx, `scale${replicas}-${i}`, { schema, stream }));
    await balanced(ctx, schema, replicas, `${replicas} relays`);
    const committedMs = await commitBacklog(ctx, schema, n);
    const state = await drained(ctx, schema, n, `${replicas} relays`);
    const rate = n / ((state.lastMs - committedMs) / 1000);
    const [pending, info] = await Promise.all([pendingCount(ctx, schema), ctx.jsm.streams.info(stream.stream)]);
    if (pending !== 0 || info.state.messages !== n) throw new Error(`${replicas} relays: ${info.state.messages} stored, ${pending} pending of ${n}`);
    ctx.log(`  ${replicas} relay(s), ${PARTITIONS} partitions: ${Math.round(rate)} events/s`);
    return { replicas, rate };
  } finally {
    for (const r of relays) await r.proc.remove();
    await stream.remove();
  }
}

async function handOverPause(ctx: BenchContext, n: number): Promise<ScaleOutFigures['handOver']> {
  const { schema, stream } = await prepare(ctx, 'rebalance');
  const relays: RelayProcess[] = [];
  const published = outboxTables(schema).publishedEvents;
  try {
    for (let i = 0; i < 3; i++) relays.push(await startRelayProcess(ctx, `rebalance-${i}`, { schema, stream }));
    await balanced(ctx, schema, 3, 'rebalance');
    await commitBacklog(ctx, schema, n);
    const before = await groupState(ctx, schema);
    const epochsBefore = new Map(before.rows.map((r) => [r.partition, r.epoch]));
    relays.push(await startRelayProcess(ctx, 'rebalance-3', { schema, stream }));
    const joinedMs = (await groupState(ctx, schema)).nowMs;
    const state = await balanced(ctx, schema, 4, 'rebalance');
    if (state.total >= n) throw new Error('the backlog was gone before the 4th relay got its share; use more --events');
    const balancedMs = state.nowMs - joinedMs;
    const moved = state.rows.filter((r) => r.epoch !== epochsBefore.get(r.partition)).map((r) => ({ partition: r.partition, from: epochsBefore.get(r.partition), to: r.epoch }));
    await drained(ctx, schema, n, 'rebalance');
    const pauses: number[] = [];
    for (const m of moved) {
      const { rows } = await ctx.pool.query<{ pause_ms: string | null }>(
        `SELECT extract(epoch FROM (SELECT min(published_at) FROM ${published} WHERE partition = $1 AND published_epoch = $3)
                                 - (SELECT max(published_at) FROM ${published} WHERE partition = $1 AND published_epoch = $2)) * 1000 AS pause_ms`,
        [m.partition, m.from, m.to],
      );
      const pause = rows[0]?.pause_ms;
      if (pause !== null && pause !== undefined) pauses.push(Number(pause));
    }
    const summary = summarize(pauses);
    ctx.log(`  a 4th relay joined 3 while draining: balanced again after ${Math.round(balancedMs)} ms; ${moved.length} partition(s) moved, publishing pause per moved partition p50 ${summary.p50.toFixed(0)} ms, max ${summary.max.toFixed(0)} ms`);
    return { balancedMs, moved: moved.length, pauses: summary };
  } finally {
    for (const r of relays) await r.proc.remove();
    await stream.remove();
  }
}

export async function scaleOut(ctx: BenchContext): Promise<ScaleOutFigures> {
  const n = ctx.events;
  const runs: ScaleOutFigures['runs'] = [];
  for (const replicas of REPLICAS) runs.push(await drainWith(ctx, replicas, n));
  const handOver = await handOverPause(ctx, 3 * n);
  return { partitions: PARTITIONS, runs, handOver };
}
