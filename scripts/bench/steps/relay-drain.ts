// (4) Relay drain rate of a pre-filled backlog, and (7) the relay's resident memory while it drains.
// The backlog goes in first through the library's enqueue (1000 events per INSERT, 4 connections), with no relay
// running. Then a stand-alone relay process (services/relay/dist/main.js, product defaults, batch size
// OUTBOX_BATCH_SIZE) drains it. Timed on the database clock: from the lease's acquired_at to last_published_at
// of the mark that brought published_total to the backlog size. Afterwards: nothing pending, stream count = events.
import { migrateOutbox, Outbox, outboxTables } from '@outbox-relay/outbox';
import type { BenchContext } from '../lib/context';
import { orderCreatedEvent } from '../lib/events';
import { cpuMs, sampleHeap, sampleRss, type HeapPeaks } from '../lib/processes';
import { checkpoint, dropSchemaLater, pendingCount, schemaName, streamFor } from '../lib/resources';
import { leaseOf, startRelayProcess, type Lease } from '../lib/services';
import { median, sleep } from '../lib/stats';

const FILL_BATCH = 1000;
const FILL_CONNECTIONS = 4;

export interface DrainFigures {
  rate: number;
  events: number;
  seconds: number;
  batchSize: number;
  analyzed: boolean;
  fill: { rate: number; seconds: number };
  memory: { atStart: number; peak: number; atEnd: number; samples: number; heap: HeapPeaks };
  relayCpu: number;
  leaseChanged: boolean;
}

export interface RelayDrainFigures extends DrainFigures {
  /** Every run's rate (the figures above are those of the median run). */
  rates: number[];
}

export async function fillBacklog(ctx: BenchContext, schema: string, n: number): Promise<{ rate: number; seconds: number }> {
  // One event per aggregate, so the per-aggregate lock buys nothing here; 1000 advisory locks per transaction
  // would also crowd Postgres's shared lock table.
  const outbox = new Outbox({ pool: ctx.pool, schema, serializeAggregates: false });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: FILL_CONNECTIONS }, async () => {
      while (next < n) {
        const size = Math.min(FILL_BATCH, n - next);
        next += size;
        const events = Array.from({ length: size }, () => orderCreatedEvent());
        await outbox.transaction((tx) => outbox.enqueue(tx, events));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await outbox.close();
  return { rate: n / seconds, seconds };
}

/**
 * Drains ctx.repeats backlogs (3 in a full run), each on a fresh schema and stream, and reports the run with the
 * median rate (its memory and CPU figures too) and all the rates: one run can land on a busy second of the host.
 */
export async function relayDrain(ctx: BenchContext): Promise<RelayDrainFigures> {
  const runs: DrainFigures[] = [];
  for (let r = 0; r < ctx.repeats; r++) runs.push(await drainOnce(ctx, ctx.repeats > 1 ? `drain${r}` : 'drain'));
  const rates = runs.map((run) => run.rate);
  const middle = runs.find((run) => run.rate === median(rates))!;
  if (ctx.repeats > 1) ctx.log(`  median of ${ctx.repeats} drains: ${Math.round(middle.rate)} events/s (${rates.map((x) => Math.round(x)).join(', ')})`);
  return { ...middle, rates };
}

async function drainOnce(ctx: BenchContext, suffix: string): Promise<DrainFigures> {
  const n = ctx.events;
  const schema = schemaName(ctx, suffix);
  dropSchemaLater(ctx, schema);
  await migrateOutbox({ pool: ctx.pool, schema });
  const fill = await fillBacklog(ctx, schema, n);
  ctx.log(`  backlog: ${n.toLocaleString('en-US')} events enqueued in ${fill.seconds.toFixed(1)} s (${Math.round(fill.rate)} rows/s)`);
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
    env: { OUTBOX_BATCH_SIZE: String(ctx.batchSize) },
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
    `  relay drained ${n.toLocaleString('en-US')} events in ${seconds.toFixed(2)} s: ${Math.round(rate)} events/s ` +
      `(batch ${ctx.batchSize}; epochs ${start.epoch}..${lease.epoch}); stored ${info.state.messages}, pending ${pending}`,
  );
  ctx.log(`  relay CPU while draining: ${(relayCpu * 100).toFixed(0)} % of one core`);
  ctx.log(`  relay RSS: ${memory.atStart.toFixed(0)} MiB at start, peak ${memory.peak.toFixed(0)} MiB, ${memory.atEnd.toFixed(0)} MiB at end (${memory.samples} samples)`);
  ctx.log(
    `  relay V8 heap (largest of ${heapPeaks.samples} scrapes of /metrics): used ${heapPeaks.heapUsed.toFixed(0)} MiB, ` +
      `total ${heapPeaks.heapTotal.toFixed(0)} MiB; outside the heap ${heapPeaks.external.toFixed(0)} MiB`,
  );
  if (info.state.messages !== n || pending !== 0) {
    throw new Error(`events lost or stuck: ${n} enqueued, ${info.state.messages} in the stream, ${pending} pending`);
  }
  return { rate, events: n, seconds, batchSize: ctx.batchSize, analyzed: ctx.analyzeBacklog, fill, memory, relayCpu, leaseChanged: lease.epoch !== start.epoch };
}
