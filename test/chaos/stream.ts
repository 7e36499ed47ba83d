/**
 * Reads the whole stream once, keeping only what the auditor looks at: a long run stores hundreds of thousands
 * of messages, and whole messages with all their headers would cost the harness a gigabyte.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';

export interface AuditedMessage {
  streamSeq: number;
  subject: string;
  /** `Nats-Msg-Id`: the outbox row's id, the stream's dedup key. */
  eventId: string;
  aggregateId: string;
  /** What the writers put in the payload; null when it is not such an object. */
  aggregate: string | null;
  version: number | null;
}

export async function readAll(nc: NatsConnection, stream: string): Promise<AuditedMessage[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const out: AuditedMessage[] = [];
  if (info.state.messages === 0) return out;
  // An ordered consumer: no state left on the server, redelivery-free, in stream order.
  const consumer = await jsm.jetstream().consumers.get(stream);
  const messages = await consumer.consume();
  for await (const m of messages) {
    let payload: { aggregate?: unknown; version?: unknown } | null = null;
    try {
      payload = m.json();
    } catch {
      // Not JSON: not written by this harness's writers; the auditor reports it as unknown.
    }
    out.push({
      streamSeq: m.seq,
      subject: m.subject,
      eventId: m.headers?.get('Nats-Msg-Id') ?? '',
      aggregateId: m.headers?.get('Outbox-Aggregate-Id') ?? '',
      aggregate: typeof payload?.aggregate === 'string' ? payload.aggregate : null,
      version: typeof payload?.version === 'number' ? payload.version : null,
    });
    if (m.seq >= info.state.last_seq) break;
  }
  await messages.close();
  return out;
}
