/**
 * The benchmark's tail figures (issue 17): the split of an end-to-end latency into relay and delivery
 * (scripts/bench/lib/latency-split.ts), the relay's event-loop delay and GC over a window read from its /metrics
 * (lib/runtime-metrics.ts), and the report rows of (5) and (9) with their targets (lib/report-rows.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { splitLatency, type EventTimes } from '../../scripts/bench/lib/latency-split';
import { buildRows } from '../../scripts/bench/lib/report-rows';
import { histogramQuantile, parseExposition, sampleSum, startRuntimeWindow, startStageWindow } from '../../scripts/bench/lib/runtime-metrics';
import type { E2eFigures } from '../../scripts/bench/steps/e2e-latency';

test('the events at or above the p99 are split into their relay and delivery parts', () => {
  // 97 quick events (1 ms relay + 1 ms delivery) and three whose relay part took 20, 30 and 40 ms.
  const slowRelay = [20, 30, 40];
  const times: EventTimes[] = Array.from({ length: 100 }, (_, i) => {
    const createdAt = i * 10;
    const stored = createdAt + (slowRelay[i - 97] ?? 1);
    return { createdAt, answered: createdAt + 0.5, stored, received: stored + 1 };
  });
  const split = splitLatency(times);
  expect([split.fromCreated.p50, split.fromCreated.p99, split.fromCreated.max]).toEqual([2, 31, 41]);
  expect([split.relayPart.p99, split.deliveryPart.max]).toEqual([30, 1]);
  // At or above the p99 (31 ms): the events of 31 and 41 ms; their relay parts' median (the lower middle) is 30.
  expect(split.slowest).toEqual({ count: 2, total: 31, relayPart: 30, deliveryPart: 1 });
  expect(split.worst).toEqual({ total: 41, relayPart: 40, deliveryPart: 1 });
  expect(split.writePart.p99).toBe(0.5);
});

const exposition = (lagP99: number, lagMax: number, gc: { minor: [number, number, number]; major: [number, number, number] }) => `
# HELP nodejs_eventloop_lag_p99_seconds The 99th percentile of the recorded event loop delays.
# TYPE nodejs_eventloop_lag_p99_seconds gauge
nodejs_eventloop_lag_p99_seconds ${lagP99}
nodejs_eventloop_lag_max_seconds ${lagMax}
${(['minor', 'major'] as const)
  .map((kind) => {
    const [sum, count, upTo10] = gc[kind];
    return [
      `nodejs_gc_duration_seconds_bucket{le="0.001",kind="${kind}"} 0`,
      `nodejs_gc_duration_seconds_bucket{le="0.01",kind="${kind}"} ${upTo10}`,
      `nodejs_gc_duration_seconds_bucket{le="+Inf",kind="${kind}"} ${count}`,
      `nodejs_gc_duration_seconds_sum{kind="${kind}"} ${sum}`,
      `nodejs_gc_duration_seconds_count{kind="${kind}"} ${count}`,
    ].join('\n');
  })
  .join('\n')}
`;

test('a runtime window reads event-loop delay less the 10 ms sampling interval, and GC as the difference of two scrapes', async () => {
  const scrapes = [
    exposition(0.5, 0.9, { minor: [0.1, 10, 10], major: [0.05, 1, 0] }),
    exposition(0.0125, 0.034, { minor: [0.3, 40, 39], major: [0.095, 2, 0] }),
  ];
  const server = http.createServer((_req, res) => res.end(scrapes.shift()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    const window = await startRuntimeWindow(url);
    const figures = await window.stop();
    expect(figures.loopDelayP99).toBeCloseTo(2.5);
    expect(figures.loopDelayMax).toBeCloseTo(24);
    expect(figures.gcMs).toBeCloseTo(245);
    expect(figures.gcCount).toBe(31);
    // One minor GC and the major one took longer than 10 ms.
    expect(figures.gcOver10Ms).toBe(2);
  } finally {
    server.close();
  }
});

test('with commit timestamps the split also runs from each commit; without them for every event, not at all', () => {
  const times = Array.from({ length: 100 }, (_, i) => ({ createdAt: 0, committed: 2 + (i === 99 ? 20 : 0), answered: 3, stored: 4 + (i === 99 ? 20 : 0), received: 5 + (i === 99 ? 20 : 0) }));
  const split = splitLatency(times);
  expect(split.fromCommit?.total).toMatchObject({ p50: 3, max: 3 });
  expect(split.fromCommit?.relayPart).toMatchObject({ p50: 2, max: 2 });
  expect(split.fromCommit?.transaction).toMatchObject({ p50: 2, max: 22 });
  expect(split.fromCreated.max).toBe(25);
  const { committed: _dropped, ...withoutCommit } = times[0]!;
  expect(splitLatency([...times.slice(1), withoutCommit]).fromCommit).toBeUndefined();
});

test('a histogram quantile is interpolated inside its bucket, as PromQL does; +Inf gives the highest finite bound', () => {
  const cumulative = new Map([[0.001, 10], [0.005, 90], [0.01, 99], [0.05, 100], [Number.POSITIVE_INFINITY, 100]]);
  expect(histogramQuantile(0.5, cumulative)).toBeCloseTo(0.001 + (0.004 * 40) / 80);
  expect(histogramQuantile(0.99, cumulative)).toBeCloseTo(0.01);
  expect(histogramQuantile(0.995, cumulative)).toBeCloseTo(0.01 + 0.04 * 0.5);
  expect(histogramQuantile(0.5, new Map([[0.1, 0], [Number.POSITIVE_INFINITY, 4]]))).toBe(0.1);
  expect(histogramQuantile(0.5, new Map([[Number.POSITIVE_INFINITY, 0]]))).toBeNaN();
});

test('a stage window counts only what the relay observed between its two scrapes', async () => {
  const stage = (read: [number, number, number], sum: number) =>
    [`outbox_relay_stage_seconds_bucket{le="0.001",stage="read"} ${read[0]}`, `outbox_relay_stage_seconds_bucket{le="0.01",stage="read"} ${read[1]}`,
      `outbox_relay_stage_seconds_bucket{le="+Inf",stage="read"} ${read[2]}`, `outbox_relay_stage_seconds_sum{stage="read"} ${sum}`,
      `outbox_relay_stage_seconds_count{stage="read"} ${read[2]}`].join('\n');
  // 10 fast reads before the window; in it 80 under 1 ms, 10 more under 10 ms and 10 slower.
  const scrapes = [stage([10, 10, 10], 0.005), stage([90, 100, 110], 0.005 + 0.5)];
  const server = http.createServer((_req, res) => res.end(scrapes.shift()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const window = await startStageWindow(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`, ['read']);
    const [read] = await window.stop();
    expect(read).toMatchObject({ stage: 'read', count: 100 });
    expect(read!.mean).toBeCloseTo(5);
    expect(read!.p50).toBeCloseTo((0.001 * 50) / 80 * 1000);
    expect(read!.p99).toBeCloseTo(10);
  } finally {
    server.close();
  }
});

test('exposition samples are read with their labels', () => {
  const samples = parseExposition('a_total{kind="x",le="0.01"} 3\na_total{kind="y"} 4\n# comment 5\nb 1e-3\n');
  expect(sampleSum(samples, 'a_total')).toBe(7);
  expect(sampleSum(samples, 'a_total', { le: '0.01' })).toBe(3);
  expect(sampleSum(samples, 'b')).toBe(0.001);
});

function e2eRun(rate: number, p99: number, extra: Partial<E2eFigures> = {}): E2eFigures {
  const summary = { count: 100, min: 1, mean: 2, p50: 2, p95: 3, p99, p999: p99 + 1, max: p99 + 5 };
  return {
    ...splitLatency([{ createdAt: 0, answered: 1, stored: 1, received: 2 }]),
    fromCreated: summary,
    embeddedRelay: false,
    rate,
    seconds: 20,
    sentRate: rate,
    completedRate: rate,
    maxBehind: 1,
    maxLateMs: 1,
    serviceCpu: 0.5,
    relayCpu: 0.2,
    relayRuntime: { loopDelayP99: 0.4, loopDelayMax: 3, gcMs: 12, gcCount: 30, gcOver10Ms: 0 },
    relayStages: [{ stage: 'read', count: 40, p50: 0.8, p99: 4.5, mean: 1.1 }],
    consumerLoop: { loopDelayP99: 0.3, loopDelayMax: 2 },
    clientLoop: { loopDelayP99: 0.5, loopDelayMax: 4 },
    created: rate * 20,
    failures: 0,
    missing: 0,
    ...extra,
  };
}

test('(5) rows: p50 / p95 / p99 / p99.9 / max against 10 ms at 1000/s and 25 ms at 5000/s; a client that fell behind says so', () => {
  const slowClient = { sentRate: 4100, completedRate: 4000, maxLateMs: 900, maxBehind: 4500 };
  const rows = buildRows({
    figures: {
      e2e: {
        rates: [
          { rate: 1000, median: e2eRun(1000, 8), runs: [e2eRun(1000, 7), e2eRun(1000, 8), e2eRun(1000, 12)] },
          { rate: 5000, median: e2eRun(5000, 30, slowClient), runs: [e2eRun(5000, 30, slowClient)] },
        ],
        embedded: { ...e2eRun(1000, 9), embeddedRelay: true },
      },
    },
    errors: {},
  });
  const at1k = rows.find((r) => r.measure.startsWith('(5) commit → subscriber at 1,000'))!;
  expect(at1k.figure).toBe('2.0 / 3.0 / 8.0 / 9.0 / 13.0 ms (p99 median of 3: 7.0, 8.0, 12.0 ms)');
  expect([at1k.target, at1k.result]).toEqual(['p99 ≤ 10 ms', 'PASS']);
  const at5k = rows.find((r) => r.measure.startsWith('(5) commit → subscriber at 5,000'))!;
  expect(at5k.figure).toBe('2.0 / 3.0 / 30.0 / 31.0 / 35.0 ms (client sent 4,100/s, up to 900 ms / 4,500 requests behind schedule; completed 4,000/s)');
  expect([at5k.target, at5k.result]).toEqual(['p99 ≤ 25 ms', 'MISS']);
  expect(rows.filter((r) => r.measure.includes('where the tail is'))).toHaveLength(3);
  expect(rows.find((r) => r.measure.includes("the relay's stages"))!.figure).toBe('read 0.8 / 4.5 ms (mean 1.1, 40 obs.)');
  expect(rows.find((r) => r.measure.startsWith('(5b)'))!.target).toBe('(info)');
});

test('(9) rows: each hot drain against its own awaiting loop', () => {
  const rows = buildRows({
    figures: {
      hot: {
        batchSize: 1000,
        cases: [
          { aggregates: 1, events: 20_000, drainRate: 2400, rawRate: 3000, drainRates: [2400], rawRates: [3000], relayCpu: 0.5 },
          { aggregates: 10, events: 50_000, drainRate: 9000, rawRate: 10_000, drainRates: [9000], rawRates: [10_000], relayCpu: 0.9 },
        ],
      },
    },
    errors: {},
  });
  const hot = rows.filter((r) => r.measure.startsWith('(9)'));
  expect(hot.map((r) => r.ratio)).toEqual(['0.80', '0.90']);
  expect(hot[0]!.limit).toMatch(/^3,000 msg\/s \(one publish in flight/);
  expect(hot[1]!.limit).toMatch(/^10,000 msg\/s \(10 such loops/);
});
