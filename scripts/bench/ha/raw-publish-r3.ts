// HA (raw): the limits the relay is set against, on the cluster: the raw publish loops of lib/publish-loops.ts (the
// relay's subjects, headers and payloads, Nats-Msg-Id, 1000 awaiting their ack) to a fresh R3 stream. Once with
// JetStreamClient.publish (a request per message: DESIGN.md's raw limit (2)), once with the acknowledgements on one
// reply subscription, as the relay collects them (2b).
import { limitRow } from '../lib/report-rows';
import { fmtInt } from '../lib/stats';
import { collectorSend, orderMessages, publishConnection, requestSend, timedPublish } from '../lib/publish-loops';
import type { HaStep } from './step';

const WINDOW = 1000;

export interface RawPublishR3Figures {
  /** msg/s, JetStreamClient.publish. */
  request: number;
  /** msg/s, acks on one reply subscription. */
  collector: number;
  events: number;
}

export const rawPublishR3Step: HaStep = {
  name: 'raw',
  title: `raw publish loops to an R3 stream, ${WINDOW} in flight`,
  async run(ctx, results) {
    const messages = orderMessages(ctx.args.events);
    const { nc, close } = await publishConnection(ctx, 'raw publish R3');
    try {
      const request = await timedPublish(ctx, 'ha_request_r3', messages, requestSend(nc), { window: WINDOW }, { replicas: 3 });
      const collector = await timedPublish(ctx, 'ha_collector_r3', messages, collectorSend(nc), { window: WINDOW }, { replicas: 3 });
      results.raw = { request, collector, events: messages.length };
    } finally {
      await close();
    }
  },
  rows: ({ raw }) =>
    raw
      ? [
          limitRow(`(2) raw publish to R3, JetStreamClient.publish, ${WINDOW} in flight`, `${fmtInt(raw.request)} msg/s`),
          limitRow(`(2b) raw publish to R3, acks on one reply subscription, ${WINDOW} in flight`, `${fmtInt(raw.collector)} msg/s`),
        ]
      : [],
};
