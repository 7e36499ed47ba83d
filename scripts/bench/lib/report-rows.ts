// The rows of the results table, from the figures of whatever steps ran: each product figure beside its raw limit
// from the same run and DESIGN.md's target.
import type { Row } from './report';
import type { StepName } from './options';
import type { StepResults } from './step-results';
import { fmtInt, fmtMs } from './stats';
import { describeStages, type E2eFigures } from '../steps/e2e-latency';
import { POD_HEAP_FLAGS } from '../steps/relay-drain';
import type { HttpFigures } from '../steps/http-orders';

export const ratioRow = (measure: string, figure: number, unit: string, limit: number, limitUnit: string, minRatio: number): Row => {
  const ratio = figure / limit;
  return {
    measure,
    figure: `${fmtInt(figure)} ${unit}`,
    limit: `${fmtInt(limit)} ${limitUnit}`,
    ratio: Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a',
    target: `≥ ${minRatio}× raw`,
    result: Number.isFinite(ratio) ? (ratio >= minRatio ? 'PASS' : 'MISS') : 'n/a',
  };
};

/** ` (median of 3: a, b, c)` when a figure is the median of repeated runs. */
const runsNote = (runs: number[] | undefined) => (runs && runs.length > 1 ? ` (median of ${runs.length}: ${runs.map((r) => fmtInt(r)).join(', ')})` : '');

export const limitRow = (measure: string, figure: string): Row => ({ measure, figure, limit: '(is the limit)', ratio: '', target: '', result: '' });

export const ceilingRow = (measure: string, figure: number, shown: string, max: number, extra = ''): Row => ({
  measure,
  figure: `${shown}${extra}`,
  limit: '',
  ratio: '',
  target: `≤ ${fmtInt(max)} ms`,
  result: Number.isFinite(figure) ? (figure <= max ? 'PASS' : 'MISS') : 'n/a',
});

const info = (row: Row): Row => ({ ...row, target: '(info)', result: '' });

/** ` (p50 …; service CPU …; orders per transaction)` of one POST /orders run. */
const httpDetails = (f: HttpFigures) =>
  ` (p50 ${fmtMs(f.latency.p50)} ms, p99 ${fmtMs(f.latency.p99)} ms; service CPU ${(f.cpu.service * 100).toFixed(0)} % of a core; ` +
  `${f.ordersPerTransaction.toFixed(1)} orders per transaction)`;

/** DESIGN.md's ceiling on commit → subscriber p99 (ms) per arrival rate (orders/s). */
const E2E_P99_TARGETS: Record<number, number> = { 1000: 10, 5000: 25 };

const LATENCY_COLUMNS = 'p50 / p95 / p99 / p99.9 / max';

const latencies = (f: E2eFigures) => {
  const c = f.fromCreated;
  return `${[c.p50, c.p95, c.p99, c.p999, c.max].map(fmtMs).join(' / ')} ms`;
};

/** ` (p99 median of 3: a, b, c ms)` when the figure is the run with the median p99 of several. */
const p99RunsNote = (runs: E2eFigures[]) => (runs.length > 1 ? ` (p99 median of ${runs.length}: ${runs.map((r) => fmtMs(r.fromCreated.p99)).join(', ')} ms)` : '');

/** What the open-loop client achieved, when it did not keep the schedule or the service did not keep up. */
const behindNote = (f: E2eFigures) => {
  const late = f.sentRate < 0.95 * f.rate || f.maxLateMs > 100;
  const saturated = f.completedRate < 0.95 * f.rate;
  if (!late && !saturated) return '';
  return ` (client sent ${fmtInt(f.sentRate)}/s, up to ${fmtInt(f.maxLateMs)} ms / ${fmtInt(f.maxBehind)} requests behind schedule; completed ${fmtInt(f.completedRate)}/s)`;
};

/** Info rows: where the tail of one e2e run is (segments, then the relay's runtime and the client's loop). */
const tailRows = (label: string, f: E2eFigures): Row[] => {
  const ms = (n: number) => `${fmtMs(n)} ms`;
  const rt = f.relayRuntime;
  const host = f.embeddedRelay ? 'service (HTTP + relay)' : 'relay';
  return [
    info({
      measure: `${label}: where the tail is, createdAt → stored (relay + publish) and stored → received (delivery)`,
      figure:
        `relay p99 ${ms(f.relayPart.p99)}, max ${ms(f.relayPart.max)}; delivery p99 ${ms(f.deliveryPart.p99)}, max ${ms(f.deliveryPart.max)}; ` +
        `the ${fmtInt(f.slowest.count)} events ≥ end-to-end p99: relay ${ms(f.slowest.relayPart)} + delivery ${ms(f.slowest.deliveryPart)} (medians); ` +
        `the slowest: relay ${ms(f.worst.relayPart)} + delivery ${ms(f.worst.deliveryPart)}`,
      limit: '',
      ratio: '',
      target: '',
      result: '',
    }),
    ...(f.fromCommit
      ? [
          info({
            measure: `${label}: from each event's commit (track_commit_timestamp, --commit-timestamps)`,
            figure:
              `commit → subscriber ${ms(f.fromCommit.total.p50)} / ${ms(f.fromCommit.total.p95)} / ${ms(f.fromCommit.total.p99)} / ${ms(f.fromCommit.total.p999)} / ${ms(f.fromCommit.total.max)}; ` +
              `commit → stored p99 ${ms(f.fromCommit.relayPart.p99)}; createdAt → commit p50 ${ms(f.fromCommit.transaction.p50)}, p99 ${ms(f.fromCommit.transaction.p99)}`,
            limit: '',
            ratio: '',
            target: '',
            result: '',
          }),
        ]
      : []),
    info({
      measure: `${label}: the relay's stages (outbox_relay_stage_seconds over the measured seconds; p50 / p99 estimated from its buckets)`,
      figure: describeStages(f.relayStages),
      limit: '',
      ratio: '',
      target: '',
      result: '',
    }),
    info({
      measure: `${label}: event-loop delay and GC over the measured seconds`,
      figure:
        `${host} loop delay p99 ${ms(rt.loopDelayP99)}, max ${ms(rt.loopDelayMax)}; ${host} GC ${ms(rt.gcMs)} in ${fmtInt(rt.gcCount)} (${fmtInt(rt.gcOver10Ms)} over 10 ms); ` +
        `benchmark consumer thread loop delay p99 ${ms(f.consumerLoop.loopDelayP99)}, max ${ms(f.consumerLoop.loopDelayMax)}; ` +
        `client loop delay p99 ${ms(f.clientLoop.loopDelayP99)}, max ${ms(f.clientLoop.loopDelayMax)}`,
      limit: '',
      ratio: '',
      target: '',
      result: '',
    }),
  ];
};

/** Table rows from whatever steps ran. */
export function buildRows({ figures, errors }: StepResults): Row[] {
  const rows: Row[] = [];
  const failed = (name: StepName, measure: string) => {
    if (errors[name] !== undefined) rows.push({ measure, figure: `ERROR: ${errors[name]}`, limit: '', ratio: '', target: '', result: 'ERROR' });
  };
  const { tx, publish, http, drain, hot, e2e, failover, scale } = figures;
  const bestTx = tx?.best ?? Number.NaN;
  const publishRate = publish?.rates.request ?? Number.NaN;

  if (tx) for (const [c, rate] of Object.entries(tx.rates)) rows.push(limitRow(`(1) order + outbox row per transaction, plain pg, fsync per commit, ${c} connections`, `${fmtInt(rate)} tx/s`));
  else failed('tx', '(1) raw order + outbox transactions');

  if (publish) {
    rows.push(limitRow('(2) JetStream async publish with Msg-Id, 1000 in flight, one Node client (noAsyncTraces): JetStreamClient.publish, as DESIGN.md measured it', `${fmtInt(publish.rates.request)} msg/s${runsNote(publish.runs.request)}`));
    rows.push({ ...limitRow('(2b) the same loop with the acks collected on one reply subscription (PubAckCollector, what the relay uses)', `${fmtInt(publish.rates.collector)} msg/s${runsNote(publish.runs.collector)}`), limit: '(info)' });
  } else failed('publish', '(2) raw JetStream publish');

  if (http) {
    const row = ratioRow(`(3) POST /orders, real service (embedded relay off), autocannon ${http.connections} connections`, http.rate, 'orders/s', bestTx, 'tx/s (best of (1))', 0.75);
    rows.push({ ...row, figure: row.figure + httpDetails(http) });
    const one = ratioRow('(3b) the same with ORDERS_WRITE_BATCH_MAX=1: one transaction per order', http.unbatched.rate, 'orders/s', bestTx, 'tx/s (best of (1))', 0.75);
    rows.push(info({ ...one, figure: one.figure + httpDetails(http.unbatched) }));
    const replicas = http.twoReplicas;
    const two = ratioRow(
      `(3c) the same as ${replicas.replicas} replicas of the service (processes on the same schemas), ${http.connections / replicas.replicas} connections each`,
      replicas.rate,
      'orders/s',
      bestTx,
      'tx/s (best of (1))',
      0.75,
    );
    const details = httpDetails(replicas).replace('(p50', '(worse replica p50').replace('% of a core', '% of a core, both together');
    // Info: on this 2-core host a second process competes with Postgres and the client for the same cores.
    rows.push(info({ ...two, figure: two.figure + details }));
  } else failed('http', '(3) POST /orders');

  if (drain) {
    rows.push({ ...limitRow(`(4a) backlog fill: enqueue, 1000 events per INSERT, 4 connections`, `${fmtInt(drain.fill.rate)} rows/s`), limit: '', target: '(info)' });
    const row = ratioRow(`(4) relay drain of a ${fmtInt(drain.events)}-event backlog, relay process, batch ${drain.batchSize}${drain.analyzed ? ', backlog ANALYZEd' : ''}`, drain.rate, 'events/s', publishRate, 'msg/s (2)', 0.9);
    rows.push({ ...row, figure: `${row.figure}${runsNote(drain.rates)} (relay CPU ${(drain.relayCpu * 100).toFixed(0)} % of a core)` });
    if (publish) rows.push(info(ratioRow("(4b) the same drain against (2b), the publish loop with the relay's own ack collection", drain.rate, 'events/s', publish.rates.collector, 'msg/s (2b)', 0.9)));
  } else failed('drain', '(4) relay drain');

  if (e2e) {
    for (const { rate, median, runs } of e2e.rates) {
      const target = E2E_P99_TARGETS[rate] ?? Number.NaN;
      const row = ceilingRow(
        `(5) commit → subscriber at ${fmtInt(rate)} orders/s for ${median.seconds} s, relay process: ${LATENCY_COLUMNS} (from the event row's created_at)`,
        median.fromCreated.p99,
        latencies(median),
        target,
        `${p99RunsNote(runs)}${behindNote(median)}`,
      );
      rows.push({ ...row, target: `p99 ≤ ${fmtInt(target)} ms` });
      rows.push(...tailRows(`(5) at ${fmtInt(rate)} orders/s`, median));
    }
    const g = e2e.embedded;
    rows.push(info(ceilingRow(`(5b) the same at ${fmtInt(g.rate)} orders/s with the relay embedded in the order service (ORDERS_RELAY_ENABLED=true)`, g.fromCreated.p99, latencies(g), E2E_P99_TARGETS[g.rate] ?? Number.NaN, behindNote(g))));
    rows.push(...tailRows('(5b)', g));
  } else failed('e2e', '(5) commit → subscriber latency');

  if (hot) {
    for (const c of hot.cases) {
      const loops = c.aggregates === 1 ? 'one publish in flight, each ack awaited' : `${c.aggregates} such loops`;
      const row = ratioRow(
        `(9) hot aggregates: drain of ${fmtInt(c.events)} events on ${c.aggregates} aggregate(s), relay process, batch ${hot.batchSize}`,
        c.drainRate,
        'events/s',
        c.rawRate,
        `msg/s (${loops}; acks collected as the relay does)`,
        1,
      );
      rows.push(info({ ...row, figure: `${row.figure}${runsNote(c.drainRates)} (relay CPU ${(c.relayCpu * 100).toFixed(0)} % of a core)`, limit: `${row.limit}${runsNote(c.rawRates)}` }));
    }
  } else failed('hot', '(9) hot aggregates');

  if (failover) {
    const { kill, stepDown, sigterm, leaseMs } = failover;
    rows.push({ ...ceilingRow(`(6) failover after SIGKILL of the leader, 3 relay processes (worst of ${kill.samples})`, kill.takeoverMs, `${fmtInt(kill.takeoverMs)} ms`, 3000, ` (publishing resumed ${fmtInt(kill.resumedMs)} ms)`), limit: `lease ${fmtInt(leaseMs)} ms` });
    rows.push(ceilingRow(`(6) graceful hand-over, POST /step-down (worst of ${stepDown.samples})`, stepDown.takeoverMs, `${fmtInt(stepDown.takeoverMs)} ms`, 500, ` (publishing resumed ${fmtInt(stepDown.resumedMs)} ms)`));
    rows.push(ceilingRow('(6) graceful hand-over, SIGTERM', sigterm.takeoverMs, `${fmtInt(sigterm.takeoverMs)} ms`, 500, ` (publishing resumed ${fmtInt(sigterm.resumedMs)} ms)`));
  } else failed('failover', '(6) failover');

  if (scale) {
    for (const run of scale.runs) {
      const row = ratioRow(`(8) drain over ${scale.partitions} partitions, ${run.replicas} relay process(es), once balanced`, run.rate, 'events/s', publishRate, 'msg/s (2)', 0.9);
      rows.push({ ...row, target: '(info: 2 cores shared)', result: '' });
    }
    const h = scale.handOver;
    rows.push({
      measure: `(8) rebalance when a 4th relay joins 3: ${h.moved} partition(s) moved`,
      figure: `pause per moved partition p50 ${fmtMs(h.pauses.p50)} ms, max ${fmtMs(h.pauses.max)} ms; balanced after ${fmtInt(h.balancedMs)} ms`,
      limit: '',
      ratio: '',
      target: '≤ 500 ms (graceful)',
      result: Number.isFinite(h.pauses.max) ? (h.pauses.max <= 500 ? 'PASS' : 'MISS') : 'n/a',
    });
  } else failed('scale', '(8) scale-out');

  if (drain) {
    const m = drain.memory;
    rows.push({
      measure: `(7) relay process RSS while draining (4)`,
      figure:
        `peak ${m.peak.toFixed(0)} MiB (start ${m.atStart.toFixed(0)}, end ${m.atEnd.toFixed(0)}); ` +
        `largest V8 heap used ${m.heap.heapUsed.toFixed(0)} / total ${m.heap.heapTotal.toFixed(0)} MiB, external ${m.heap.external.toFixed(0)} MiB`,
      limit: '',
      ratio: '',
      target: 'bounded (info)',
      result: '',
    });
    const pod = drain.inPod;
    rows.push({
      measure: `(7b) the same with a relay pod's heap (256 Mi container: ${POD_HEAP_FLAGS.join(' ')}): RSS, and its drain against (2b)`,
      figure:
        `peak ${pod.memory.peak.toFixed(0)} MiB (heap used ${pod.memory.heap.heapUsed.toFixed(0)} / total ${pod.memory.heap.heapTotal.toFixed(0)} MiB); ` +
        `${fmtInt(pod.rate)} events/s`,
      limit: publish ? `${fmtInt(publish.rates.collector)} msg/s (2b)` : '',
      ratio: publish ? (pod.rate / publish.rates.collector).toFixed(2) : '',
      target: 'RSS ≤ 128 MiB',
      result: pod.memory.peak <= 128 ? 'PASS' : 'MISS',
    });
  }
  return rows;
}
