// A service's Node runtime over a stretch of a run, from prom-client's default metrics on its /metrics (every
// service registers them, services/telemetry/src/registry.ts): event-loop delay and garbage collection.
//
// Two quirks of those metrics shape what is read here:
// - nodejs_eventloop_lag_{p99,max}_seconds come from perf_hooks.monitorEventLoopDelay, which prom-client resets at
//   every scrape: one scrape at the start of a window and one at its end give the window's figures. Its samples
//   are the intervals between ticks of a 10 ms timer (prom-client's eventLoopMonitoringPrecision), so an idle loop
//   reads about 10 ms: the delay is the reading minus those 10 ms.
// - nodejs_gc_duration_seconds is a cumulative histogram per kind (major, minor, ...): a window's GC is the
//   difference between its two scrapes. prom-client observes only the first entry of each batch its
//   PerformanceObserver delivers, so GCs close together are undercounted: a lower bound.
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** prom-client's default monitorEventLoopDelay resolution, in ms (the interval every sample includes). */
const TICK_MS = 10;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a text exposition (Prometheus text format; comments skipped). */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the first sample named `name` (whatever its labels); NaN when there is none. */
export function sampleValue(samples: Sample[], name: string): number {
  return samples.find((s) => s.name === name)?.value ?? Number.NaN;
}

/** The sum of the samples named `name` whose labels include `labels`. */
export function sampleSum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** One scrape of `metricsUrl`, parsed (the classic text format: no Accept header asks for OpenMetrics). */
export async function scrape(metricsUrl: string): Promise<Sample[]> {
  const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${metricsUrl} answered ${res.status}`);
  return parseExposition(await res.text());
}

/** Event-loop delay and GC of one process over a window, in ms. */
export interface RuntimeFigures {
  loopDelayP99: number;
  loopDelayMax: number;
  gcMs: number;
  gcCount: number;
  /** GCs that took longer than 10 ms (the histogram's bucket bound). */
  gcOver10Ms: number;
}

interface GcTotals {
  ms: number;
  count: number;
  upTo10Ms: number;
}

function gcTotals(samples: Sample[]): GcTotals {
  return {
    ms: sampleSum(samples, 'nodejs_gc_duration_seconds_sum') * 1000,
    count: sampleSum(samples, 'nodejs_gc_duration_seconds_count'),
    upTo10Ms: sampleSum(samples, 'nodejs_gc_duration_seconds_bucket', { le: '0.01' }),
  };
}

/**
 * Starts a window on a service's runtime: scrapes now (which resets its event-loop histogram and gives the GC
 * totals so far); `stop()` scrapes again and returns the window's figures.
 */
export async function startRuntimeWindow(metricsUrl: string): Promise<{ stop(): Promise<RuntimeFigures> }> {
  const before = gcTotals(await scrape(metricsUrl));
  return {
    async stop() {
      const samples = await scrape(metricsUrl);
      const after = gcTotals(samples);
      const count = after.count - before.count;
      return {
        loopDelayP99: sampleValue(samples, 'nodejs_eventloop_lag_p99_seconds') * 1000 - TICK_MS,
        loopDelayMax: sampleValue(samples, 'nodejs_eventloop_lag_max_seconds') * 1000 - TICK_MS,
        gcMs: after.ms - before.ms,
        gcCount: count,
        gcOver10Ms: count - (after.upTo10Ms - before.upTo10Ms),
      };
    },
  };
}

/** Event-loop delay over a window, in ms. */
export type LoopDelay = Pick<RuntimeFigures, 'loopDelayP99' | 'loopDelayMax'>;

/**
 * The same event-loop delay figures for the calling thread (the benchmark's client, or its consumer thread: a
 * stall of the consumer's loop would be counted as delivery), sampled as prom-client samples them.
 */
export function startLoopDelayWindow(): { stop(): LoopDelay } {
  const histogram = monitorEventLoopDelay({ resolution: TICK_MS });
  histogram.enable();
  return {
    stop() {
      histogram.disable();
      return { loopDelayP99: histogram.percentile(99) / 1e6 - TICK_MS, loopDelayMax: histogram.max / 1e6 - TICK_MS };
    },
  };
}

/** One stage of outbox_relay_stage_seconds over a window: observations and quantiles estimated from its buckets. */
export interface StageFigures {
  stage: string;
  count: number;
  /** ms, interpolated linearly inside the bucket that holds the quantile (as PromQL's histogram_quantile does). */
  p50: number;
  p99: number;
  /** ms: the mean, from the histogram's sum. */
  mean: number;
}

/** A cumulative histogram's `le` → count for one stage. */
function stageBuckets(samples: Sample[], stage: string): Map<number, number> {
  const buckets = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== 'outbox_relay_stage_seconds_bucket' || s.labels.stage !== stage) continue;
    buckets.set(s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le), s.value);
  }
  return buckets;
}

/**
 * The q-quantile of a window's histogram (cumulative counts per upper bound), in the unit of the bounds: linear
 * inside the bucket, the highest finite bound when it falls in +Inf. NaN without observations.
 */
export function histogramQuantile(q: number, cumulative: ReadonlyMap<number, number>): number {
  const bounds = [...cumulative.keys()].sort((a, b) => a - b);
  const total = cumulative.get(Number.POSITIVE_INFINITY) ?? 0;
  if (total <= 0) return Number.NaN;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bound of bounds) {
    const count = cumulative.get(bound)!;
    if (count >= rank) {
      if (!Number.isFinite(bound)) return lowerBound;
      const inBucket = count - lowerCount;
      return inBucket === 0 ? bound : lowerBound + ((bound - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return lowerBound;
}

/**
 * Starts a window on a relay's stage histogram (outbox_relay_stage_seconds): `stop()` scrapes again and returns,
 * per stage, what was observed in between.
 */
export async function startStageWindow(metricsUrl: string, stages: readonly string[]): Promise<{ stop(): Promise<StageFigures[]> }> {
  const before = await scrape(metricsUrl);
  return {
    async stop() {
      const after = await scrape(metricsUrl);
      return stages.map((stage) => {
        const start = stageBuckets(before, stage);
        const window = new Map([...stageBuckets(after, stage)].map(([le, n]) => [le, n - (start.get(le) ?? 0)]));
        const count = window.get(Number.POSITIVE_INFINITY) ?? 0;
        const sum = sampleSum(after, 'outbox_relay_stage_seconds_sum', { stage }) - sampleSum(before, 'outbox_relay_stage_seconds_sum', { stage });
        return { stage, count, p50: histogramQuantile(0.5, window) * 1000, p99: histogramQuantile(0.99, window) * 1000, mean: count > 0 ? (sum / count) * 1000 : Number.NaN };
      });
    },
  };
}
