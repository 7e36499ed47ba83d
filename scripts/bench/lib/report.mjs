// The results table: rows built from the steps' figures, printed as text and written into BENCHMARKS.md
// between generated-section markers (the rest of the file is kept as it is).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fmtInt, fmtMs } from './stats.mjs';

export const BEGIN = '<!-- BEGIN GENERATED: npm run bench (scripts/bench/run.mjs); edits inside are overwritten -->';
export const END = '<!-- END GENERATED: npm run bench -->';

const ratioRow = (measure, figure, unit, limit, limitUnit, minRatio) => {
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
const runsNote = (runs) => (runs && runs.length > 1 ? ` (median of ${runs.length}: ${runs.map((r) => fmtInt(r)).join(', ')})` : '');

const limitRow = (measure, figure) => ({ measure, figure, limit: '(is the limit)', ratio: '', target: '', result: '' });

const ceilingRow = (measure, figure, shown, max, extra = '') => ({
  measure,
  figure: `${shown}${extra}`,
  limit: '',
  ratio: '',
  target: `≤ ${fmtInt(max)} ms`,
  result: Number.isFinite(figure) ? (figure <= max ? 'PASS' : 'MISS') : 'n/a',
});

/** Table rows from whatever steps ran (`results[name]` is the step's figures or `{ error }`). */
export function buildRows(results) {
  const rows = [];
  const failed = (name, measure) => rows.push({ measure, figure: `ERROR: ${results[name].error}`, limit: '', ratio: '', target: '', result: 'ERROR' });
  const ok = (name) => results[name] && !results[name].error;
  const { tx, publish, http, drain, e2e, failover } = results;

  if (results.tx) {
    if (ok('tx')) for (const [c, rate] of Object.entries(tx.rates)) rows.push(limitRow(`(1) order + outbox row per transaction, plain pg, fsync per commit, ${c} connections`, `${fmtInt(rate)} tx/s`));
    else failed('tx', '(1) raw order + outbox transactions');
  }
  if (results.publish) {
    if (ok('publish')) {
      rows.push(limitRow('(2) JetStream async publish with Msg-Id, 1000 in flight, one Node client (noAsyncTraces): JetStreamClient.publish, as DESIGN.md measured it', `${fmtInt(publish.rates.request)} msg/s${runsNote(publish.runs?.request)}`));
      rows.push({ ...limitRow('(2b) the same loop with the acks collected on one reply subscription (PubAckCollector, what the relay uses)', `${fmtInt(publish.rates.collector)} msg/s${runsNote(publish.runs?.collector)}`), limit: '(info)' });
    }
    else failed('publish', '(2) raw JetStream publish');
  }
  if (results.http) {
    if (ok('http')) {
      const row = ratioRow(
        `(3) POST /orders, real service (embedded relay off), autocannon ${http.connections} connections`,
        http.rate,
        'orders/s',
        ok('tx') ? tx.best : Number.NaN,
        'tx/s (best of (1))',
        0.75,
      );
      const details = (f) =>
        ` (p50 ${fmtMs(f.latency.p50)} ms, p99 ${fmtMs(f.latency.p99)} ms; service CPU ${(f.cpu.service * 100).toFixed(0)} % of a core; ` +
        `${f.ordersPerTransaction.toFixed(1)} orders per transaction)`;
      row.figure += details(http);
      rows.push(row);
      if (http.unbatched) {
        const one = ratioRow(
          '(3b) the same with ORDERS_WRITE_BATCH_MAX=1: one transaction per order',
          http.unbatched.rate,
          'orders/s',
          ok('tx') ? tx.best : Number.NaN,
          'tx/s (best of (1))',
          0.75,
        );
        one.figure += details(http.unbatched);
        rows.push({ ...one, target: '(info)', result: '' });
      }
      if (http.replicas) {
        const two = ratioRow(
          `(3c) the same as ${http.replicas.replicas} replicas of the service (processes on the same schemas), ${http.connections / http.replicas.replicas} connections each`,
          http.replicas.rate,
          'orders/s',
          ok('tx') ? tx.best : Number.NaN,
          'tx/s (best of (1))',
          0.75,
        );
        two.figure += details(http.replicas).replace('(p50', '(worse replica p50').replace('% of a core', '% of a core, both together');
        // Info: on this 2-core host a second process competes with Postgres and the client for the same cores.
        rows.push({ ...two, target: '(info)', result: '' });
      }
    } else failed('http', '(3) POST /orders');
  }
  if (results.drain) {
    if (ok('drain')) {
      rows.push({ ...limitRow(`(4a) backlog fill: enqueue, 1000 events per INSERT, 4 connections`, `${fmtInt(drain.fill.rate)} rows/s`), limit: '', target: '(info)' });
      const row = ratioRow(`(4) relay drain of a ${fmtInt(drain.events)}-event backlog, relay process, batch ${drain.batchSize}${drain.analyzed ? ', backlog ANALYZEd' : ''}`, drain.rate, 'events/s', ok('publish') ? publish.rates.request : Number.NaN, 'msg/s (2)', 0.9);
      row.figure += `${runsNote(drain.rates)} (relay CPU ${(drain.relayCpu * 100).toFixed(0)} % of a core)`;
      rows.push(row);
      if (ok('publish')) {
        const lean = ratioRow('(4b) the same drain against (2b), the publish loop with the relay\'s own ack collection', drain.rate, 'events/s', publish.rates.collector, 'msg/s (2b)', 0.9);
        rows.push({ ...lean, target: '(info)', result: '' });
      }
    } else failed('drain', '(4) relay drain');
  }
  if (results.e2e) {
    if (ok('e2e')) {
      const f = e2e.fromCreated;
      rows.push(
        ceilingRow(
          `(5) commit → subscriber at ${fmtInt(e2e.rate)} orders/s for ${e2e.seconds} s: p50 / p95 / p99 (from the event row's created_at)`,
          f.p99,
          `${fmtMs(f.p50)} / ${fmtMs(f.p95)} / ${fmtMs(f.p99)} ms`,
          25,
          e2e.completedRate < 0.95 * e2e.rate ? ` (service saturated: completed only ${fmtInt(e2e.completedRate)}/s)` : '',
        ),
      );
      rows[rows.length - 1].target = 'p99 ≤ 25 ms';
      rows[rows.length - 1].measure += ', relay process';
      if (e2e.embedded) {
        const g = e2e.embedded.fromCreated;
        const row = ceilingRow(
          '(5b) the same with the relay embedded in the order service (ORDERS_RELAY_ENABLED=true)',
          g.p99,
          `${fmtMs(g.p50)} / ${fmtMs(g.p95)} / ${fmtMs(g.p99)} ms`,
          25,
        );
        rows.push({ ...row, target: '(info)', result: '' });
      }
    } else failed('e2e', '(5) commit → subscriber latency');
  }
  if (results.failover) {
    if (ok('failover')) {
      const { kill, stepDown, sigterm, leaseMs } = failover;
      rows.push({ ...ceilingRow(`(6) failover after SIGKILL of the leader, 3 relay processes (worst of ${kill.samples})`, kill.takeoverMs, `${fmtInt(kill.takeoverMs)} ms`, 3000, ` (publishing resumed ${fmtInt(kill.resumedMs)} ms)`), limit: `lease ${fmtInt(leaseMs)} ms` });
      rows.push(ceilingRow(`(6) graceful hand-over, POST /step-down (worst of ${stepDown.samples})`, stepDown.takeoverMs, `${fmtInt(stepDown.takeoverMs)} ms`, 500, ` (publishing resumed ${fmtInt(stepDown.resumedMs)} ms)`));
      rows.push(ceilingRow('(6) graceful hand-over, SIGTERM', sigterm.takeoverMs, `${fmtInt(sigterm.takeoverMs)} ms`, 500, ` (publishing resumed ${fmtInt(sigterm.resumedMs)} ms)`));
    } else failed('failover', '(6) failover');
  }
  if (results.scale) {
    if (ok('scale')) {
      const { scale } = results;
      for (const run of scale.runs) {
        const row = ratioRow(`(8) drain over ${scale.partitions} partitions, ${run.replicas} relay process(es), once balanced`, run.rate, 'events/s', ok('publish') ? publish.rates.request : Number.NaN, 'msg/s (2)', 0.9);
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
  }
  if (results.drain && ok('drain')) {
    const m = drain.memory;
    rows.push({
      measure: `(7) relay process RSS while draining (4)`,
      figure: `peak ${m.peak.toFixed(0)} MiB (start ${m.atStart.toFixed(0)}, end ${m.atEnd.toFixed(0)})`,
      limit: '',
      ratio: '',
      target: 'bounded (info)',
      result: '',
    });
  }
  return rows;
}

const COLUMNS = [
  ['measure', 'measure'],
  ['figure', 'figure'],
  ['limit', 'raw limit (same run)'],
  ['ratio', 'ratio'],
  ['target', 'target (DESIGN.md)'],
  ['result', 'result'],
];

export function textTable(rows) {
  const widths = COLUMNS.map(([key, title]) => Math.max(title.length, ...rows.map((r) => String(r[key]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd();
  return [line(COLUMNS.map(([, t]) => t)), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(COLUMNS.map(([k]) => r[k])))].join('\n');
}

export function markdownTable(rows) {
  const esc = (v) => String(v).replace(/\|/g, '\\|');
  return [
    `| ${COLUMNS.map(([, t]) => t).join(' | ')} |`,
    `|${COLUMNS.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${COLUMNS.map(([k]) => esc(r[k])).join(' | ')} |`),
  ].join('\n');
}

/** Replaces the generated section of `file` (or appends one), keeping everything else. */
export function writeGeneratedSection(file, body) {
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const section = `${BEGIN}\n${body.trim()}\n${END}`;
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  let next;
  if (start >= 0 && end > start) next = `${current.slice(0, start)}${section}${current.slice(end + END.length)}`;
  else if (start >= 0 || end >= 0) throw new Error(`${file} has only one of the generated-section markers; fix it by hand`);
  else next = `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}
