// (4) Relay drain rate of a pre-filled backlog (one event per aggregate), and (7) the relay's resident memory
// while it drains. How the backlog is filled, drained, timed and checked: lib/backlog.ts.
import { drainBacklog, type DrainFigures } from '../lib/backlog';
import type { BenchContext } from '../lib/context';
import { median } from '../lib/stats';

export type { DrainFigures };

export interface RelayDrainFigures extends DrainFigures {
  /** Every run's rate (the figures above are those of the median run). */
  rates: number[];
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
  const figures = await drainBacklog(ctx, suffix, { events: ctx.events });
  const { memory, relayCpu } = figures;
  const heap = memory.heap;
  ctx.log(`  relay CPU while draining: ${(relayCpu * 100).toFixed(0)} % of one core`);
  ctx.log(`  relay RSS: ${memory.atStart.toFixed(0)} MiB at start, peak ${memory.peak.toFixed(0)} MiB, ${memory.atEnd.toFixed(0)} MiB at end (${memory.samples} samples)`);
  ctx.log(
    `  relay V8 heap (largest of ${heap.samples} scrapes of /metrics): used ${heap.heapUsed.toFixed(0)} MiB, ` +
      `total ${heap.heapTotal.toFixed(0)} MiB; outside the heap ${heap.external.toFixed(0)} MiB`,
  );
  return figures;
}
