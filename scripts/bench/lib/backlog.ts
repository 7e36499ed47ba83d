// A backlog drained by a relay process: enqueued through the library (1000 events per INSERT, 4 connections) with
// no relay running, then drained by a stand-alone relay process (services/relay/dist/main.js, product defaults,
// one partition, OUTBOX_BATCH_SIZE from the run). Timed on the database clock: from the lease's acquired_at to the
// last_published_at of the mark that brought published_total to the backlog size. Afterwards: nothing pending,
// stream count = events. Used by (4) relay drain and (9) hot aggregates.
import { migrateOutbox, Outbox, outboxTables } from '@outbox-relay/outbox';
import type { BenchContext } from './context';
import { orderCreatedEvent } from './events';
import { cpuMs, sampleHeap, sampleRss, type HeapPeaks } from './processes';
import { checkpoint, dropSchemaLater, pendingCount, schemaName, streamFor } from './resources';
import { leaseOf, startRelayProcess, type Lease } from './services';
import { sleep } from './stats';

const FILL_BATCH = 1000;
const FILL_CONNECTIONS = 4;

export interface BacklogShape {
  events: number;
  /**
   * Spread the events round-robin over this many aggregates (event i on aggregate i mod n). Default: one event
   * per aggregate.
   */
  aggregates?: number;
}

export interface DrainFigures {
  rate: number;
  events: number;
  /** As BacklogShape.aggregates; undefined for one event per aggregate. */
  aggregates: number | undefined;
  seconds: number;
  batchSize: number;
  analyzed: boolean;
  fill: { rate: number; seconds: number };
  memory: { atStart: number; peak: number; atEnd: number; samples: number; heap: HeapPeaks };
  relayCpu: number;
  leaseChanged: boolean;
}

/** The aggregate ids of a backlog spread over `aggregates` (named after the run, so no two runs share one). */
export function hotAggregateIds(ctx: BenchContext, aggregates: number): string[] {
  return Array.from({ length: aggregates }, (_, k) => `${ctx.tag}-hot-${k}`);
}

export async function fillBacklog(ctx: BenchContext, schema: string, { events: n, aggregates }: BacklogShape): Promise<{ rate: number; seconds: number }> {
  // No per-aggregate advisory lock: the relay starts only after the fill, so commit order among the fill's
  // transactions does not matter, and with one event per aggregate 1000 locks per transaction would crowd
  // Postgres's shared lock table.
  const outbox = new Outbox({ pool: ctx.pool, schema, serializeAggregates: false });
  const ids = aggregates === undefined ? null : hotAggregateIds(ctx, aggregates);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: FILL_CONNECTIONS }, async () => {
      while (next < n) {
        const first = next;
        const size = Math.min(FILL_BATCH, n - first);
        next += size;
        const events = Array.from({ length: size }, (_, k) => (ids ? orderCreatedEvent(ids[(first + k) % ids.length]) : orderCreatedEvent()));
        await outbox.transaction((tx) => outbox.enqueue(tx, events));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await outbox.close();
  return { rate: n / seconds, seconds };
}

/**
 * Fills a backlog of `shape` on a fresh schema `<tag>_<suffix>` and drains it into a fresh stream with a relay
 * process (`relayEnv` added to its environment, e.g. OUTBOX_STREAM_REPLICAS; `relayNodeArgs` to its Node flags); the
 * relay's RSS, V8 heap and CPU are
 * sampled meanwhile. Throws when the stream does not hold exactly
 * the backlog at the end or anything is still pending.
 */
export async function drainBacklog(
  ctx: BenchContext,
  suffix: string,
  shape: BacklogShape,
  relayEnv: Record<string, string> = {},
  relayNodeArgs: string[] = [],
): Promise<DrainFigures> {
  const n = shape.events;
  const schema = schemaName(ctx, suffix);
  dropSchemaLater(ctx, schema);
  await migrateOutbox({ pool: ctx.pool, schema });
  const fill = await fillBacklog(ctx, schema, shape);
  const spread = shape.aggregates === undefined ? '' : ` on ${shape.aggregates} aggregate(s)`;
  ctx.log(`  backlog: ${n.toLocaleString('en-US')} events${spread} enqueued in ${fill.seconds.toFixed(1)} s (${Math.round(fill.rate)} rows/s)`);
  if (ctx.analyzeBacklog) {
    await ctx.pool.query(`ANALYZE ${outboxTables(schema).outbox}`);
    ctx.log('  backlog analyzed (--analyze): the relay starts with fresh planner statistics');
  }
  // The fill's own writes are not the relay's cost.
  await checkpoint(ctx);

  const stream = streamFor(ctx, suffix);
  const relay = await startRelayProcess(ctx, `relay-${suffix}`, {
    schema,
    stream,
    env: { OUTBOX_BATCH_SIZE: String(ctx.batchSize), ...relayEnv },
    nodeArgs: relayNodeArgs,
  });
  const rss = sampleRss(relay.proc.pid, 100);
  const heap = sampleHeap(`${relay.url}/metrics`);
  const cpuAtStart = cpuMs(relay.proc.pid);
  const wallAtStart = Date.now();
  const timeoutMs = Math.max(60_000, n * 2);
  const deadline = Date.now() + timeoutMs;
  let first: Lease | null = null;
  let lease: Lease;
  for (;;) {
    lease = await leaseOf(ctx, schema);
    if (lease.holder !== null && first === null) first = lease;
    if (lease.published_total >= n) break;
    if (!relay.proc.alive()) throw new Error(`the relay exited while draining; see ${relay.proc.logFile}`);
    if (Date.now() > deadline) throw new Error(`drain not finished after ${timeoutMs} ms (${lease.published_total} of ${n})`);
    await sleep(100);
  }
  // The backlog is published only under a lease, so a holder was seen by now.
  const start = first ?? lease;
  // CPU share over the drain proper (the process started a moment before its lease; close enough on seconds).
  const relayCpu = (cpuMs(relay.proc.pid) - cpuAtStart) / Math.max(1, Date.now() - Math.max(wallAtStart, start.acquired_ms));
  await sleep(300); // one more RSS sample or three after the last batch
  const samples = await rss.stop();
  const heapPeaks = await heap.stop();
  const seconds = ((lease.last_published_ms ?? Number.NaN) - start.acquired_ms) / 1000;
  const rate = n / seconds;
  const [pending, info] = await Promise.all([pendingCount(ctx, schema), ctx.jsm.streams.info(stream.stream)]);
  await relay.proc.remove();
  await stream.remove();
  const mib = samples.map((s) => s.mib);
  const memory = {
    atStart: mib[0] ?? Number.NaN,
    peak: Math.max(...mib),
    atEnd: mib[mib.length - 1] ?? Number.NaN,
    samples: mib.length,
    heap: heapPeaks,
  };
  ctx.log(
    `  relay drained ${n.toLocaleString('en-US')} events${spread} in ${seconds.toFixed(2)} s: ${Math.round(rate)} events/s ` +
      `(batch ${ctx.batchSize}; epochs ${start.epoch}..${lease.epoch}); stored ${info.state.messages}, pending ${pending}`,
  );
  if (info.state.messages !== n || pending !== 0) {
    throw new Error(`events lost or stuck: ${n} enqueued, ${info.state.messages} in the stream, ${pending} pending`);
  }
  return {
    rate,
    events: n,
    aggregates: shape.aggregates,
    seconds,
    batchSize: ctx.batchSize,
    analyzed: ctx.analyzeBacklog,
    fill,
    memory,
    relayCpu,
    leaseChanged: lease.epoch !== start.epoch,
  };
}
