// (4) Relay drain rate of a pre-filled backlog (one event per aggregate), and (7) the relay's resident memory
// while it drains, as a host process and (7b) with the heap of a relay pod. How the backlog is filled, drained,
// timed and checked: lib/backlog.ts.
import { drainBacklog, type DrainFigures } from '../lib/backlog';
import type { BenchContext } from '../lib/context';
import { median } from '../lib/stats';

export type { DrainFigures };

export interface RelayDrainFigures extends DrainFigures {
  /** Every run's rate (the figures above are those of the median run). */
  rates: number[];
  /** One more drain, with the heap Node gives a relay in its pod (POD_HEAP_FLAGS). */
  inPod: DrainFigures;
}

/**
 * The V8 heap Node 22-26 size for a process in a container with the operator's default relay memory limit (256 Mi):
 * old space 256 MiB, semi-spaces 2 MiB (heap_size_limit 262 MiB). Measured on this machine by starting node inside a
 * 256 MiB memory cgroup (BENCHMARKS.md, issue 17 memory); on a host without a limit, V8 sizes the heap for the whole
 * machine and lets garbage pile up to it, which no relay pod does.
 */
export const POD_HEAP_FLAGS = ['--max-old-space-size=256', '--max-semi-space-size=2'];

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
  ctx.log(`  once more with a relay pod's heap (${POD_HEAP_FLAGS.join(' ')}):`);
  const inPod = await drainOnce(ctx, 'drainpod', POD_HEAP_FLAGS);
  ctx.log(`  relay drained at ${Math.round(inPod.rate)} events/s with that heap`);
  return { ...middle, rates, inPod };
}

async function drainOnce(ctx: BenchContext, suffix: string, nodeArgs: string[] = []): Promise<DrainFigures> {
  const figures = await drainBacklog(ctx, suffix, { events: ctx.events }, {}, nodeArgs);
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
