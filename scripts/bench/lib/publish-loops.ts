// Raw JetStream publish loops, the limits the relay's publishing is set against: the messages the relay would send
// (same subject shape, headers and payload, Nats-Msg-Id = event id), published on a fresh stream of the run with a
// bound on what awaits its PubAck. Used by (2) raw publish and (9) hot aggregates.
// The client is configured for speed (noAsyncTraces: no Error with a stack trace built per request, which costs
// about a quarter of the client's CPU), so these are limits of the machine, not of one client configuration.
import { randomUUID } from 'node:crypto';
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { ensureStream, type StreamLimits } from '@outbox-relay/outbox';
import { PubAckCollector } from '@outbox-relay/outbox/internal';
import { onCleanup } from '../../lib/cleanup';
import type { BenchContext } from './context';
import { orderCreatedPayload } from './events';
import { streamFor } from './resources';

export interface Message {
  id: string;
  aggregateId: string;
  seq: string;
  correlationId: string;
  data: string;
}

/**
 * `n` OrderCreated messages, built before any timing (the relay reads payload text from Postgres, so serializing
 * is not part of its publish either): one aggregate each, or round-robin over `aggregateIds` (message i on
 * aggregate i mod count, as lib/backlog.ts fills a hot backlog).
 */
export function orderMessages(n: number, aggregateIds?: string[]): Message[] {
  return Array.from({ length: n }, (_, i) => {
    const aggregateId = aggregateIds ? aggregateIds[i % aggregateIds.length]! : randomUUID();
    return { id: randomUUID(), aggregateId, seq: String(i + 1), correlationId: randomUUID(), data: JSON.stringify(orderCreatedPayload(aggregateId)) };
  });
}

/** Publishes one message; `close` (if any) once the run is over. */
export type Send = ((m: Message, h: MsgHdrs) => Promise<unknown>) & { close?: () => void };
/** A Send for a stream and its subject prefix. */
export type MakeSend = (stream: string, subjectPrefix: string) => Send;

/** A connection for raw publishing (noAsyncTraces), closed by `close()` or the run's clean-up. */
export async function publishConnection(ctx: BenchContext, what: string): Promise<{ nc: NatsConnection; close: () => Promise<void> }> {
  const nc = await connect({ servers: ctx.natsUrl.split(','), name: `${ctx.tag} ${what}`, noAsyncTraces: true });
  return { nc, close: onCleanup(`${what} NATS connection`, () => nc.close()) };
}

/** JetStreamClient.publish: a request per message (DESIGN.md's raw limit). */
export function requestSend(nc: NatsConnection): MakeSend {
  const js = jetstream(nc);
  return (stream, subjectPrefix) => {
    const subject = `${subjectPrefix}.Order.OrderCreated`;
    return (m, h) => js.publish(subject, m.data, { msgID: m.id, headers: h, expect: { streamName: stream } });
  };
}

/** The acknowledgements collected on one reply subscription (PubAckCollector), as the relay publishes. */
export function collectorSend(nc: NatsConnection): MakeSend {
  return (stream, subjectPrefix) => {
    const subject = `${subjectPrefix}.Order.OrderCreated`;
    const acks = new PubAckCollector(nc, { stream, timeoutMs: 30_000 });
    const send: Send = (m, h) => {
      h.set('Nats-Msg-Id', m.id);
      return acks.publish(subject, m.data, h);
    };
    send.close = () => acks.close();
    return send;
  };
}

/**
 * What may await its PubAck at once: a sliding `window` over all messages (any ack lets the next one go), or
 * `loops` independent loops that each await every ack before their next message (loop j sends messages j,
 * j + loops, ...: with messages round-robin over as many aggregates, each loop is one aggregate's chain, the
 * relay's rule of one publish in flight per aggregate).
 */
export type InFlight = { window: number } | { loops: number };

const describe = (inFlight: InFlight) => ('window' in inFlight ? `window ${inFlight.window}` : `${inFlight.loops} awaiting loop(s)`);

/**
 * Publishes `messages` through `makeSend` on a fresh stream (with `limits`, e.g. three replicas on a cluster),
 * `inFlight` at a time; returns messages per second.
 */
export async function timedPublish(ctx: BenchContext, label: string, messages: Message[], makeSend: MakeSend, inFlight: InFlight, limits: StreamLimits = {}): Promise<number> {
  const n = messages.length;
  const { stream, subjectPrefix, remove } = streamFor(ctx, `rawpub_${label}`);
  await ensureStream(ctx.jsm, { name: stream, subjectPrefix, duplicateWindowMs: 120_000, limits });
  const send = makeSend(stream, subjectPrefix);
  const publish = (m: Message) => send(m, relayHeaders(m));
  const started = performance.now();
  if ('window' in inFlight) await slidingWindow(messages, publish, inFlight.window);
  else await awaitingLoops(messages, publish, inFlight.loops);
  const seconds = (performance.now() - started) / 1000;
  send.close?.();
  const info = await ctx.jsm.streams.info(stream);
  await remove();
  const rate = n / seconds;
  ctx.log(`  ${label} (${describe(inFlight)}): ${n.toLocaleString('en-US')} messages in ${seconds.toFixed(2)} s: ${Math.round(rate)} msg/s (stored ${info.state.messages})`);
  if (info.state.messages !== n) throw new Error(`raw publish (${label}) stored ${info.state.messages} of ${n} messages`);
  return rate;
}

/** The headers the relay sends in its default mode (publish/message-headers.ts), Nats-Msg-Id added by the Send. */
function relayHeaders(m: Message): MsgHdrs {
  const h = natsHeaders();
  h.set('Outbox-Event-Id', m.id);
  h.set('Outbox-Event-Type', 'OrderCreated');
  h.set('Outbox-Aggregate-Type', 'Order');
  h.set('Outbox-Aggregate-Id', m.aggregateId);
  h.set('Outbox-Partition', '0');
  h.set('Outbox-Seq', m.seq);
  h.set('Outbox-Correlation-Id', m.correlationId);
  return h;
}

function slidingWindow(messages: Message[], publish: (m: Message) => Promise<unknown>, window: number): Promise<void> {
  const n = messages.length;
  return new Promise<void>((resolve, reject) => {
    let next = 0;
    let acked = 0;
    let failed = false;
    const pump = () => {
      while (!failed && next < n && next - acked < window) {
        publish(messages[next++]!).then(
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
}

async function awaitingLoops(messages: Message[], publish: (m: Message) => Promise<unknown>, loops: number): Promise<void> {
  await Promise.all(
    Array.from({ length: loops }, async (_, j) => {
      for (let i = j; i < messages.length; i += loops) await publish(messages[i]!);
    }),
  );
}
