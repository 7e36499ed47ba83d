// The rows of the results table, from the figures of whatever steps ran: each product figure beside its raw limit
// from the same run and DESIGN.md's target.
import type { Row } from './report';
import type { StepName } from './options';
import type { StepResults } from './step-results';
import { fmtInt, fmtMs } from './stats';
import type { HttpFigures } from '../steps/http-orders';

const ratioRow = (measure: string, figure: number, unit: string, limit: number, limitUnit: string, minRatio: number): Row => {
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

const limitRow = (measure: string, figure: string): Row => ({ measure, figure, limit: '(is the limit)', ratio: '', target: '', result: '' });

const ceilingRow = (measure: string, figure: number, shown: string, max: number, extra = ''): Row => ({
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

/** Table rows from whatever steps ran. */
export function buildRows({ figures, errors }: StepResults): Row[] {
  const rows: Row[] = [];
  const failed = (name: StepName, measure: string) => {
    if (errors[name] !== undefined) rows.push({ measure, figure: `ERROR: ${errors[name]}`, limit: '', ratio: '', target: '', result: 'ERROR' });
  };
  const { tx, publish, http, drain, e2e, failover, scale } = figures;
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
    const f = e2e.fromCreated;
    const saturated = e2e.completedRate < 0.95 * e2e.rate ? ` (service saturated: completed only ${fmtInt(e2e.completedRate)}/s)` : '';
    const row = ceilingRow(`(5) commit → subscriber at ${fmtInt(e2e.rate)} orders/s for ${e2e.seconds} s: p50 / p95 / p99 (from the event row's created_at)`, f.p99, `${fmtMs(f.p50)} / ${fmtMs(f.p95)} / ${fmtMs(f.p99)} ms`, 25, saturated);
    rows.push({ ...row, measure: `${row.measure}, relay process`, target: 'p99 ≤ 25 ms' });
    const g = e2e.embedded.fromCreated;
    rows.push(info(ceilingRow('(5b) the same with the relay embedded in the order service (ORDERS_RELAY_ENABLED=true)', g.p99, `${fmtMs(g.p50)} / ${fmtMs(g.p95)} / ${fmtMs(g.p99)} ms`, 25)));
  } else failed('e2e', '(5) commit → subscriber latency');

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
  }
  return rows;
}
