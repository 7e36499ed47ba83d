// (2) Raw limit of the publish path: one Node client publishing to JetStream with Nats-Msg-Id, a sliding window
// of 1000 publishes awaiting their PubAck, the same subject shape, headers and payload the relay sends
// (lib/publish-loops.ts). Measured twice: with JetStreamClient.publish (a request per message), DESIGN.md's raw
// limit and the target's basis; and with the acknowledgements collected on one reply subscription
// (PubAckCollector, what the relay itself uses), reported beside it so that the relay is also seen against a
// client as lean as its own.
import type { BenchContext } from '../lib/context';
import { collectorSend, orderMessages, publishConnection, requestSend, timedPublish } from '../lib/publish-loops';
import { median } from '../lib/stats';

const WINDOW = 1000;

export interface RawPublishFigures {
  /** The median of `runs.request`, DESIGN.md's raw limit. */
  rate: number;
  rates: { request: number; collector: number };
  runs: { request: number[]; collector: number[] };
  events: number;
}

export async function rawPublish(ctx: BenchContext): Promise<RawPublishFigures> {
  const n = ctx.events;
  const messages = orderMessages(n);
  const { nc, close } = await publishConnection(ctx, 'raw publish');
  const runs: RawPublishFigures['runs'] = { request: [], collector: [] };
  try {
    // Repeated and interleaved (ctx.repeats, 3 in a full run): on a shared host one run can land on a busy second.
    for (let r = 0; r < ctx.repeats; r++) {
      runs.request.push(await timedPublish(ctx, `request${r}`, messages, requestSend(nc), { window: WINDOW }));
      runs.collector.push(await timedPublish(ctx, `collector${r}`, messages, collectorSend(nc), { window: WINDOW }));
    }
  } finally {
    await close();
  }
  const rates = { request: median(runs.request), collector: median(runs.collector) };
  ctx.log(`  JetStreamClient.publish ${Math.round(rates.request)} msg/s; acks on one reply subscription ${Math.round(rates.collector)} msg/s${ctx.repeats > 1 ? ` (medians of ${ctx.repeats})` : ''}`);
  return { rate: rates.request, rates, runs, events: n };
}
