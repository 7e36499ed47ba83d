// (9) Hot aggregates (issue 17). The relay keeps one publish in flight per aggregate (DESIGN.md invariant 4), so a
// backlog on few aggregates cannot drain faster than one publish round trip per event and aggregate. This step
// drains a backlog on exactly 1 aggregate and one on exactly 10 (a relay process, one partition, lib/backlog.ts)
// and, in the same run, the matching raw bounds (lib/publish-loops.ts): one message in flight, each ack awaited
// before the next; and 10 independent loops doing the same. The raw loops collect their acks as the relay does
// (PubAckCollector), so the ratio says whether the relay reaches the round-trip bound, not how its client compares.
// The backlog's events are round-robin over the aggregates in id order (event i on aggregate i mod n): the relay
// sends in id order and waits for an aggregate's ack before its next event, so this order lets all n be in
// flight; a clumped order would block behind one aggregate sooner.
import { drainBacklog, hotAggregateIds } from '../lib/backlog';
import type { BenchContext } from '../lib/context';
import { collectorSend, orderMessages, publishConnection, timedPublish } from '../lib/publish-loops';
import { median } from '../lib/stats';

/** The backlogs: on 1 aggregate ctx.hotEvents, on 10 aggregates 2.5 times as many (they drain faster). */
const CASES = [
  { aggregates: 1, sizeFactor: 1 },
  { aggregates: 10, sizeFactor: 2.5 },
] as const;

export interface HotCaseFigures {
  aggregates: number;
  events: number;
  /** Medians of the runs below. */
  drainRate: number;
  rawRate: number;
  drainRates: number[];
  rawRates: number[];
  /** Of the median drain. */
  relayCpu: number;
}

export interface HotAggregatesFigures {
  batchSize: number;
  cases: HotCaseFigures[];
}

export async function hotAggregates(ctx: BenchContext): Promise<HotAggregatesFigures> {
  const plans = CASES.map(({ aggregates, sizeFactor }) => {
    const events = Math.round(ctx.hotEvents * sizeFactor);
    return { aggregates, events, messages: orderMessages(events, hotAggregateIds(ctx, aggregates)), raw: [] as number[], drains: [] as Array<{ rate: number; relayCpu: number }> };
  });
  const { nc, close } = await publishConnection(ctx, 'hot raw publish');
  try {
    // Repeated and interleaved (ctx.repeats, 3 in a full run): on a shared host one run can land on a busy second.
    for (let r = 0; r < ctx.repeats; r++) {
      for (const plan of plans) {
        const label = `hot${plan.aggregates}_${r}`;
        plan.raw.push(await timedPublish(ctx, label, plan.messages, collectorSend(nc), { loops: plan.aggregates }));
        const drain = await drainBacklog(ctx, label, { events: plan.events, aggregates: plan.aggregates });
        plan.drains.push({ rate: drain.rate, relayCpu: drain.relayCpu });
      }
    }
  } finally {
    await close();
  }
  const cases = plans.map((plan): HotCaseFigures => {
    const drainRates = plan.drains.map((d) => d.rate);
    const middle = plan.drains.find((d) => d.rate === median(drainRates))!;
    const figures = { aggregates: plan.aggregates, events: plan.events, drainRate: middle.rate, rawRate: median(plan.raw), drainRates, rawRates: plan.raw, relayCpu: middle.relayCpu };
    const medians = ctx.repeats > 1 ? ` (medians of ${ctx.repeats})` : '';
    ctx.log(
      `  ${plan.aggregates} aggregate(s): relay ${Math.round(figures.drainRate)} events/s, ${plan.aggregates} awaiting loop(s) ${Math.round(figures.rawRate)} msg/s${medians}: ` +
        `${(figures.drainRate / figures.rawRate).toFixed(2)} of the round-trip bound; relay CPU ${(figures.relayCpu * 100).toFixed(0)} % of one core`,
    );
    return figures;
  });
  return { batchSize: ctx.batchSize, cases };
}
