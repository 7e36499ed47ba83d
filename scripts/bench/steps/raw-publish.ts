// (2) Raw limit of the publish path: one Node client publishing to JetStream with Nats-Msg-Id, a sliding window
// of 1000 publishes awaiting their PubAck, the same subject shape, headers and payload the relay sends.
// The client is configured for speed (noAsyncTraces: no Error with a stack trace built per request, which costs
// about a quarter of the client's CPU), so this is the limit of the machine, not of one client configuration.
// Measured twice: with JetStreamClient.publish (a request per message), DESIGN.md's raw limit and the target's
// basis; and with the acknowledgements collected on one reply subscription (PubAckCollector, what the relay itself
// uses), reported beside it so that the relay is also seen against a client as lean as its own.
import { randomUUID } from 'node:crypto';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { ensureStream } from '@outbox-relay/outbox';
import { PubAckCollector } from '@outbox-relay/outbox/internal';
import { onCleanup } from '../../lib/cleanup';
import type { BenchContext } from '../lib/context';
import { orderCreatedPayload } from '../lib/events';
import { streamFor } from '../lib/resources';
import { median } from '../lib/stats';

const WINDOW = 1000;

interface Message {
  id: string;
  orderId: string;
  seq: string;
  correlationId: string;
  data: string;
}

/** Publishes one message; `close` (if any) once the run is over. */
type Send = ((m: Message, h: MsgHdrs) => Promise<unknown>) & { close?: () => void };

export interface RawPublishFigures {
  /** The median of `runs.request`, DESIGN.md's raw limit. */
  rate: number;
  rates: { request: number; collector: number };
  runs: { request: number[]; collector: number[] };
  events: number;
}

export async function rawPublish(ctx: BenchContext): Promise<RawPublishFigures> {
  const n = ctx.events;
  // Built before timing: the relay reads payload text from Postgres, so serializing is not part of its publish either.
  const messages: Message[] = Array.from({ length: n }, (_, i) => {
    const orderId = randomUUID();
    return { id: randomUUID(), orderId, seq: String(i + 1), correlationId: randomUUID(), data: JSON.stringify(orderCreatedPayload(orderId)) };
  });

  const nc = await connect({ servers: ctx.natsUrl, name: `${ctx.tag} raw publish`, noAsyncTraces: true });
  const closeConnection = onCleanup('raw publish NATS connection', () => nc.close());
  const js = jetstream(nc);
  const runs: RawPublishFigures['runs'] = { request: [], collector: [] };
  try {
    // Repeated and interleaved (ctx.repeats, 3 in a full run): on a shared host one run can land on a busy second.
    for (let r = 0; r < ctx.repeats; r++) {
      runs.request.push(
        await timedPublish(ctx, `request${r}`, messages, (s, subjectPrefix) => {
          const subject = `${subjectPrefix}.Order.OrderCreated`;
          return (m, h) => js.publish(subject, m.data, { msgID: m.id, headers: h, expect: { streamName: s } });
        }),
      );
      runs.collector.push(
        await timedPublish(ctx, `collector${r}`, messages, (s, subjectPrefix) => {
          const subject = `${subjectPrefix}.Order.OrderCreated`;
          const acks = new PubAckCollector(nc, { stream: s, timeoutMs: 30_000 });
          const send: Send = (m, h) => {
            h.set('Nats-Msg-Id', m.id);
            return acks.publish(subject, m.data, h);
          };
          send.close = () => acks.close();
          return send;
        }),
      );
    }
  } finally {
    await closeConnection();
  }
  const rates = { request: median(runs.request), collector: median(runs.collector) };
  ctx.log(`  JetStreamClient.publish ${Math.round(rates.request)} msg/s; acks on one reply subscription ${Math.round(rates.collector)} msg/s${ctx.repeats > 1 ? ` (medians of ${ctx.repeats})` : ''}`);
  return { rate: rates.request, rates, runs, events: n };
}

/** Publishes `messages` with a sliding window of WINDOW unacknowledged, through `makeSend`, on a fresh stream. */
async function timedPublish(ctx: BenchContext, label: string, messages: Message[], makeSend: (stream: string, subjectPrefix: string) => Send): Promise<number> {
  const n = messages.length;
  const { stream, subjectPrefix, remove } = streamFor(ctx, `rawpub_${label}`);
  await ensureStream(ctx.jsm, { name: stream, subjectPrefix, duplicateWindowMs: 120_000 });
  const send = makeSend(stream, subjectPrefix);
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    let next = 0;
    let acked = 0;
    let failed = false;
    const pump = () => {
      while (!failed && next < n && next - acked < WINDOW) {
        const m = messages[next++]!;
        const h = natsHeaders();
        h.set('Outbox-Event-Id', m.id);
        h.set('Outbox-Event-Type', 'OrderCreated');
        h.set('Outbox-Aggregate-Type', 'Order');
        h.set('Outbox-Aggregate-Id', m.orderId);
        h.set('Outbox-Partition', '0');
        h.set('Outbox-Seq', m.seq);
        h.set('Outbox-Correlation-Id', m.correlationId);
        send(m, h).then(
          () => {
            acked++;
            if (acked === n) resolve();
            else pump();
          },
          (error: unknown) => {
            failed = true;
            reject(error);
          },
        );
      }
    };
    pump();
  });
  const seconds = (performance.now() - started) / 1000;
  send.close?.();
  const info = await ctx.jsm.streams.info(stream);
  await remove();
  const rate = n / seconds;
  ctx.log(`  ${label}: ${n.toLocaleString('en-US')} messages in ${seconds.toFixed(2)} s: ${Math.round(rate)} msg/s (stored ${info.state.messages})`);
  if (info.state.messages !== n) throw new Error(`raw publish (${label}) stored ${info.state.messages} of ${n} messages`);
  return rate;
}
