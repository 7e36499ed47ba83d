import type { JsMsg } from '@nats-io/jetstream';
import { OutboxHeaders } from '@outbox-relay/outbox';

/** One received event as a handler sees it. */
export interface InboxEvent {
  /** `Outbox-Event-Id` (the original id, also on replays), else `Nats-Msg-Id`, else `<stream>:<stream seq>`. */
  eventId: string;
  /** `Outbox-Event-Type`, else the subject's last token. */
  eventType: string;
  subject: string;
  streamSeq: number | undefined;
  /** JetStream's delivery count, 1 on the first delivery. */
  deliveryCount: number;
  aggregateType: string | undefined;
  aggregateId: string | undefined;
  /** `Outbox-Partition`. */
  partition: number | undefined;
  /** `Outbox-Seq`: the event's position in the outbox; a consumer can tell a gap in one aggregate by it. */
  seq: number | undefined;
  /** The parsed JSON payload; null when the payload could not be parsed (see `parseError`). */
  payload: unknown;
  /** Every header, first value of each. */
  headers: Record<string, string>;
  replayOf: string | undefined;
  correlationId: string | undefined;
  traceparent: string | undefined;
  /** Set when the payload is not UTF-8 JSON; such an event is dead-lettered without calling the handler. */
  parseError?: string;
  /** The payload text, kept only when it could not be parsed. */
  rawPayload?: string;
}

const MSG_ID = 'Nats-Msg-Id';

/** Reads the event out of a JetStream message. Never throws: an unparseable payload is reported in `parseError`. */
export function inboxEventFromMsg(m: JsMsg): InboxEvent {
  const headers: Record<string, string> = {};
  if (m.headers) for (const [name, values] of m.headers) if (values[0] !== undefined) headers[name] = values[0];
  const get = (name: string) => (headers[name] === undefined || headers[name] === '' ? undefined : headers[name]);
  const int = (name: string) => {
    const n = Number(get(name));
    return get(name) !== undefined && Number.isSafeInteger(n) ? n : undefined;
  };
  const event: InboxEvent = {
    eventId: get(OutboxHeaders.eventId) ?? get(MSG_ID) ?? `${m.info.stream}:${m.seq}`,
    eventType: get(OutboxHeaders.eventType) ?? m.subject.slice(m.subject.lastIndexOf('.') + 1),
    subject: m.subject,
    streamSeq: m.seq,
    deliveryCount: m.info.deliveryCount,
    aggregateType: get(OutboxHeaders.aggregateType),
    aggregateId: get(OutboxHeaders.aggregateId),
    partition: int(OutboxHeaders.partition),
    seq: int(OutboxHeaders.seq),
    payload: null,
    headers,
    replayOf: get(OutboxHeaders.replayOf),
    correlationId: get(OutboxHeaders.correlationId),
    traceparent: get('traceparent'),
  };
  if (m.data.length === 0) return event;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(m.data);
  } catch {
    event.parseError = 'payload is not valid UTF-8';
    event.rawPayload = Buffer.from(m.data).toString('base64');
    return event;
  }
  try {
    event.payload = JSON.parse(text);
  } catch (error) {
    event.parseError = `payload is not JSON (${(error as Error).message})`;
    event.rawPayload = text;
  }
  return event;
}
