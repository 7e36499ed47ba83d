import { randomUUID } from 'node:crypto';
import { AckPolicy, jetstream, jetstreamManager, type Consumer } from '@nats-io/jetstream';
import { headers, nanos } from '@nats-io/nats-core';
import type { NatsConnection } from '@nats-io/transport-node';
import { OutboxHeaders } from '@outbox-relay/outbox';

/** Creates the test stream and a durable pull consumer on it (explicit ack, unlimited deliveries). */
export async function createDurable(nc: NatsConnection, stream: string, prefix: string, name: string, ackWaitMs = 30_000): Promise<Consumer> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], duplicate_window: nanos(120_000) }).catch(async (error: unknown) => {
    if (!/already in use/.test(String(error))) throw error;
  });
  await jsm.consumers.add(stream, { durable_name: name, ack_policy: AckPolicy.Explicit, ack_wait: nanos(ackWaitMs), max_deliver: -1 });
  return jetstream(nc).consumers.get(stream, name);
}

export interface PublishedEvent {
  eventId: string;
  aggregateId: string;
}

/**
 * Publishes an event the way the relay does (Nats-Msg-Id + Outbox-* headers). `msgId` differs from the event id
 * for a replay, which the stream stores again while consumers see the same event.
 */
export async function publishEvent(
  nc: NatsConnection,
  prefix: string,
  event: { eventId?: string; msgId?: string; aggregateId: string; payload?: unknown; raw?: Uint8Array; replayOf?: string },
): Promise<PublishedEvent> {
  const eventId = event.eventId ?? randomUUID();
  const h = headers();
  h.set(OutboxHeaders.eventId, eventId);
  h.set(OutboxHeaders.eventType, 'OrderCreated');
  h.set(OutboxHeaders.aggregateType, 'Order');
  h.set(OutboxHeaders.aggregateId, event.aggregateId);
  if (event.replayOf) h.set(OutboxHeaders.replayOf, event.replayOf);
  const data = event.raw ?? JSON.stringify(event.payload ?? { orderId: event.aggregateId });
  await jetstream(nc).publish(`${prefix}.Order.OrderCreated`, data, { msgID: event.msgId ?? eventId, headers: h });
  return { eventId, aggregateId: event.aggregateId };
}

/** Acknowledged-or-not state of a durable, to await "nothing left to deliver". */
export async function consumerSettled(nc: NatsConnection, stream: string, name: string): Promise<boolean> {
  const info = await (await jetstreamManager(nc)).consumers.info(stream, name);
  return info.num_pending === 0 && info.num_ack_pending === 0;
}
