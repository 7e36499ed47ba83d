// Small numeric helpers shared by the steps.

/** Percentile by nearest rank of an ascending-sorted array; NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface Summary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

export function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    min: sorted[0] ?? Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** Wall-clock milliseconds with sub-millisecond resolution (comparable with Date.now() and Postgres now()). */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

export { setTimeout as sleep } from 'node:timers/promises';

export const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
export const fmtMs = (n: number): string => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : 'n/a');

/** The middle value (nearest rank: the lower middle of an even count); NaN when empty. */
export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/**
 * The straight line through a series of rates (least squares): its value at the first and the last point, the
 * relative change between them, and the spread of the points around their mean. One point against another is at
 * the mercy of that spread (a VACUUM or a retention sweep falls into some windows and not others); the line uses
 * every point.
 */
export function linearTrend(rates: number[]): { start: number; end: number; drift: number; stdev: number } {
  const n = rates.length;
  if (n < 2) return { start: Number.NaN, end: Number.NaN, drift: Number.NaN, stdev: Number.NaN };
  const meanX = (n - 1) / 2;
  const meanY = rates.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  rates.forEach((rate, i) => {
    sxy += (i - meanX) * (rate - meanY);
    sxx += (i - meanX) ** 2;
  });
  const slope = sxy / sxx;
  const start = meanY - slope * meanX;
  const end = start + slope * (n - 1);
  const stdev = Math.sqrt(rates.reduce((sum, r) => sum + (r - meanY) ** 2, 0) / (n - 1));
  return { start, end, drift: (end - start) / start, stdev };
}
