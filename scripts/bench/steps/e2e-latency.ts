// (5) End-to-end latency, commit → subscriber, at fixed arrival rates through the real order service: with the
// relay as its own process beside it (as the operator and the demo chart run it; the headline) at 1,000 and 5,000
// orders/s, each ctx.repeats times (the run with the median p99 reported, every run's p99 listed); and once at
// 1,000/s with the relay embedded in the order service (one event loop for HTTP and relay). An open-loop client
// (lib/open-loop.ts) sends POST /orders on schedule; a JetStream ordered consumer in a worker thread of this
// process (lib/consumer-thread.ts: not on the client's event loop) receives every OrderCreated.
//
// Timestamps (one host, so one clock for Postgres, NATS and this process):
//   createdAt   the outbox row's created_at = Postgres now() = start of the transaction that wrote the event
//               (microseconds; read from the outbox after the run). It precedes the commit by that transaction's
//               own duration (one statement plus its fsync), so "createdAt → received" is an UPPER bound of
//               commit → subscriber: the headline figure. (Not the payload's createdAt: the service stamps the
//               order when the request is handled, before its write queues behind the writes in flight.)
//   answered    when this client had the 201 response; the commit happened before it, so "answered → received"
//               is a LOWER bound (it can even be negative).
//   stored      the JetStream message timestamp (when the stream stored it): splits relay time from delivery
//               (lib/latency-split.ts).
//   received    when the consumer callback ran in its thread (performance.timeOrigin + performance.now()).
// Beside the split, over the measured seconds: the relay's event-loop delay and GC (from its /metrics,
// lib/runtime-metrics.ts), the consumer thread's event-loop delay (a stall there is counted as delivery) and the
// client's (a stall there makes it fall behind its schedule).
import http from 'node:http';
import { ensureStream, outboxTables } from '@outbox-relay/outbox';
import { RELAY_STAGES } from '@outbox-relay/telemetry';
import { getJson, waitFor } from '@outbox-relay/test-support';
import { startConsumerThread } from '../lib/consumer-thread';
import type { BenchContext } from '../lib/context';
import { splitLatency, type EventTimes, type LatencySplit } from '../lib/latency-split';
import { MAX_IN_FLIGHT, openLoop, type SentOrder } from '../lib/open-loop';
import { measureCpu } from '../lib/processes';
import { streamFor } from '../lib/resources';
import { startLoopDelayWindow, startRuntimeWindow, startStageWindow, type LoopDelay, type RuntimeFigures, type StageFigures } from '../lib/runtime-metrics';
import { startOrdersService, startRelayProcess } from '../lib/services';
import { fmtMs, median } from '../lib/stats';

/** Orders per second of the relay-process runs; the embedded relay runs at the first. */
export const E2E_RATES = [1000, 5000] as const;

export interface E2eFigures extends LatencySplit {
  embeddedRelay: boolean;
  rate: number;
  seconds: number;
  sentRate: number;
  completedRate: number;
  maxBehind: number;
  maxLateMs: number;
  serviceCpu: number;
  /** CPU of the relay process (NaN when embedded: it is in serviceCpu). */
  relayCpu: number;
  /** Event-loop delay and GC of the process running the relay over the measured seconds. */
  relayRuntime: RuntimeFigures;
  /** The relay's own stage timings over the measured seconds (outbox_relay_stage_seconds). */
  relayStages: StageFigures[];
  /** Event-loop delay of the consumer thread meanwhile. */
  consumerLoop: LoopDelay;
  /** Event-loop delay of the client (this process's main thread) meanwhile. */
  clientLoop: LoopDelay;
  created: number;
  failures: number;
  missing: number;
}

export interface E2eRateFigures {
  rate: number;
  /** The run with the median p99 (createdAt → received). */
  median: E2eFigures;
  runs: E2eFigures[];
}

export interface E2eLatencyFigures {
  /** Relay process, one entry per E2E_RATES. */
  rates: E2eRateFigures[];
  /** Relay embedded in the order service, at E2E_RATES[0]. */
  embedded: E2eFigures;
}

export async function e2eLatency(ctx: BenchContext): Promise<E2eLatencyFigures> {
  const runs = new Map<number, E2eFigures[]>(E2E_RATES.map((rate) => [rate, []]));
  // Rates interleaved within each repeat: on a shared host one run can land on a busy second.
  for (let r = 0; r < ctx.repeats; r++) {
    for (const rate of E2E_RATES) {
      const which = ctx.repeats > 1 ? ` (run ${r + 1} of ${ctx.repeats})` : '';
      ctx.log(`  relay as its own process, ${rate} orders/s${which} (as the operator runs it; the order service with ORDERS_RELAY_ENABLED=false):`);
      runs.get(rate)!.push(await measure(ctx, `e2e${rate}_${r}`, { embedded: false, rate }));
    }
  }
  const rates = E2E_RATES.map((rate) => {
    const all = runs.get(rate)!;
    const p99s = all.map((run) => run.fromCreated.p99);
    const middle = all.find((run) => run.fromCreated.p99 === median(p99s))!;
    if (all.length > 1) ctx.log(`  ${rate} orders/s, relay process: median p99 ${fmtMs(middle.fromCreated.p99)} ms (runs: ${p99s.map(fmtMs).join(', ')} ms)`);
    return { rate, median: middle, runs: all };
  });
  ctx.log(`  relay embedded in the order service (ORDERS_RELAY_ENABLED=true, one process for HTTP and relay), ${E2E_RATES[0]} orders/s:`);
  return { rates, embedded: await measure(ctx, 'e2e_emb', { embedded: true, rate: E2E_RATES[0] }) };
}

async function measure(ctx: BenchContext, suffix: string, { embedded, rate }: { embedded: boolean; rate: number }): Promise<E2eFigures> {
  const stream = streamFor(ctx, suffix);
  await ensureStream(ctx.jsm, { name: stream.stream, subjectPrefix: stream.subjectPrefix, duplicateWindowMs: 120_000 });
  const consumer = await startConsumerThread(ctx, stream.stream);

  const service = await startOrdersService(ctx, suffix, { relay: embedded, stream });
  const relayProc = embedded ? null : await startRelayProcess(ctx, `relay-${suffix}`, { schema: service.outboxSchema, stream });
  const relayHost = relayProc ?? service;
  await waitFor('the relay to lead', async () => (await getJson<{ leading?: boolean }>(`${relayHost.url}/status`, 30_000))?.leading ?? false, 30_000);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const orders = new Map<string, SentOrder>();
  const warmupSeconds = ctx.quick ? 1 : 2;
  const seconds = ctx.quick ? 3 : 20;
  await openLoop(agent, `${service.url}/orders`, rate, warmupSeconds, orders, 'warmup');
  const serviceCpu = measureCpu(service.proc.pid);
  const relayCpu = relayProc ? measureCpu(relayProc.proc.pid) : null;
  const runtime = await startRuntimeWindow(`${relayHost.url}/metrics`);
  const stages = await startStageWindow(`${relayHost.url}/metrics`, RELAY_STAGES);
  const ownLoop = startLoopDelayWindow();
  consumer.measure();
  const load = await openLoop(agent, `${service.url}/orders`, rate, seconds, orders, 'measured');
  const cpu = { service: serviceCpu.stop(), relay: relayCpu?.stop() ?? Number.NaN };
  // Missing ones are counted below.
  await consumer.awaitIds([...orders.keys()], 30_000);
  const clientLoop = ownLoop.stop();
  const relayRuntime = await runtime.stop();
  const relayStages = await stages.stop();
  const { received, loop: consumerLoop } = await consumer.stop();
  agent.destroy();
  // With track_commit_timestamp (--commit-timestamps), each event's commit too: what createdAt bounds from above.
  // Taken from its order row's xmin (the same transaction wrote both): the outbox row's own xmin is that of the
  // relay's mark by now. An order row changed since (version > 1) has another xmin and gives no commit time.
  const commits = (await ctx.pool.query<{ on: string }>(`SELECT current_setting('track_commit_timestamp') AS on`)).rows[0]?.on === 'on';
  const { rows: written } = await ctx.pool.query<{ id: string; ms: number; committed: number | null }>(
    `SELECT e.aggregate_id AS id, extract(epoch FROM e.created_at)::float8 * 1000 AS ms,
            ${commits ? 'extract(epoch FROM pg_xact_commit_timestamp(o.xmin))::float8 * 1000' : 'NULL::float8'} AS committed
     FROM ${outboxTables(service.outboxSchema).outbox} e
     LEFT JOIN "${service.ordersSchema}".orders o ON o.id::text = e.aggregate_id AND o.version = 1`,
  );
  const eventCreatedAt = new Map(written.map((row) => [row.id, row]));
  await service.proc.remove();
  await relayProc?.proc.remove();
  await stream.remove();

  const missing = [...orders.keys()].filter((id) => !received.has(id)).length;
  const measured = [...orders].filter(([, o]) => o.phase === 'measured');
  const times: EventTimes[] = [];
  for (const [id, order] of measured) {
    const r = received.get(id);
    const row = eventCreatedAt.get(id);
    if (r && row !== undefined) {
      times.push({ createdAt: row.ms, answered: order.answered, stored: r.stored, received: r.received, ...(row.committed === null ? {} : { committed: row.committed }) });
    }
  }
  const figures: E2eFigures = {
    ...splitLatency(times),
    embeddedRelay: embedded,
    rate,
    seconds,
    sentRate: load.sent / load.sendSeconds,
    completedRate: measured.length / load.seconds,
    maxBehind: load.maxBehind,
    maxLateMs: load.maxLateMs,
    serviceCpu: cpu.service,
    relayCpu: cpu.relay,
    relayRuntime,
    relayStages,
    consumerLoop,
    clientLoop,
    created: measured.length,
    failures: load.failures,
    missing,
  };
  logRun(ctx, figures);
  if (missing > 0) throw new Error(`${missing} created orders never reached the subscriber`);
  return figures;
}

function logRun(ctx: BenchContext, f: E2eFigures): void {
  const c = f.fromCreated;
  const ms = (n: number) => `${fmtMs(n)} ms`;
  ctx.log(
    `  ${f.created} orders sent at ${f.sentRate.toFixed(0)}/s, completed at ${f.completedRate.toFixed(0)}/s (target ${f.rate}/s for ${f.seconds} s): createdAt → subscriber ` +
      `p50 ${ms(c.p50)}, p95 ${ms(c.p95)}, p99 ${ms(c.p99)}, p99.9 ${ms(c.p999)}, max ${ms(c.max)}`,
  );
  ctx.log(
    `  split: createdAt → stored (relay) p99 ${ms(f.relayPart.p99)}, max ${ms(f.relayPart.max)}; stored → received (delivery) p99 ${ms(f.deliveryPart.p99)}, max ${ms(f.deliveryPart.max)}; ` +
      `the ${f.slowest.count} events at or above p99: relay ${ms(f.slowest.relayPart)} + delivery ${ms(f.slowest.deliveryPart)} (medians); ` +
      `the slowest: relay ${ms(f.worst.relayPart)} + delivery ${ms(f.worst.deliveryPart)}`,
  );
  const rt = f.relayRuntime;
  const host = f.embeddedRelay ? 'service (HTTP + embedded relay)' : 'relay process';
  ctx.log(
    `  ${host}: event-loop delay p99 ${ms(rt.loopDelayP99)}, max ${ms(rt.loopDelayMax)}; GC ${ms(rt.gcMs)} in ${rt.gcCount} collections (${rt.gcOver10Ms} over 10 ms; a lower bound)` +
      `${f.embeddedRelay ? '' : `; CPU ${(f.relayCpu * 100).toFixed(0)} % of one core`}. ` +
      `Benchmark's event loops: consumer thread delay p99 ${ms(f.consumerLoop.loopDelayP99)}, max ${ms(f.consumerLoop.loopDelayMax)}; client delay p99 ${ms(f.clientLoop.loopDelayP99)}, max ${ms(f.clientLoop.loopDelayMax)}`,
  );
  if (f.fromCommit) {
    const { total, relayPart, transaction } = f.fromCommit;
    ctx.log(
      `  from the commit (track_commit_timestamp): commit → subscriber p50 ${ms(total.p50)}, p95 ${ms(total.p95)}, p99 ${ms(total.p99)}, p99.9 ${ms(total.p999)}, max ${ms(total.max)}; ` +
        `commit → stored (relay) p50 ${ms(relayPart.p50)}, p99 ${ms(relayPart.p99)}; createdAt → commit (the transaction) p50 ${ms(transaction.p50)}, p99 ${ms(transaction.p99)}`,
    );
  }
  ctx.log(`  relay stages (its outbox_relay_stage_seconds; p50 / p99 from the buckets, mean): ${describeStages(f.relayStages)}`);
  ctx.log(
    `  201 answer → received p50 ${ms(f.fromAnswered.p50)}, p99 ${ms(f.fromAnswered.p99)}; ` +
      `createdAt → 201 answer (the write's own statement, commit and HTTP answer) p50 ${ms(f.writePart.p50)}, p99 ${ms(f.writePart.p99)}`,
  );
  ctx.log(
    `  service CPU (HTTP${f.embeddedRelay ? ' + embedded relay' : ''}) ${(f.serviceCpu * 100).toFixed(0)} % of one core; non-201 or failed requests ${f.failures}; ` +
      `client behind schedule by up to ${f.maxBehind} requests, ${ms(f.maxLateMs)} (cap ${MAX_IN_FLIGHT} in flight); missing at subscriber ${f.missing}`,
  );
}

/** "commit_to_read 1.2 / 9.8 ms (mean 2.0), read ...": the relay's stages over a run, for logs and the report. */
export function describeStages(stages: readonly StageFigures[]): string {
  return stages.map((s) => `${s.stage} ${fmtMs(s.p50)} / ${fmtMs(s.p99)} ms (mean ${fmtMs(s.mean)}, ${s.count} obs.)`).join('; ');
}
