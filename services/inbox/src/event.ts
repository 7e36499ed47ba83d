import type { JsMsg } from '@nats-io/jetstream';
import { CloudEventsHeaders, decodeCloudEventsHeaderValue, OutboxHeaders } from '@outbox-relay/outbox';

/**
 * One received event as a handler sees it, read from the relay's `Outbox-*` headers or, in a message published with
 * CloudEvents headers only (OUTBOX_MESSAGE_HEADERS=cloudevents), from their `ce-*` counterparts (README, "Reading
 * events in any language"): the same event gives the same fields in every mode.
 */
export interface InboxEvent {
  /**
   * `Outbox-Event-Id` or `ce-id` (the original id, also on replays), else `Nats-Msg-Id`, else
   * `<stream>:<stream seq>`.
   */
  eventId: string;
  /** `Outbox-Event-Type`, else what follows the last dot of `ce-type`, else the subject's last token. */
  eventType: string;
  subject: string;
  streamSeq: number | undefined;
  /** JetStream's delivery count, 1 on the first delivery. */
  deliveryCount: number;
  /** `Outbox-Aggregate-Type`, else what precedes the last dot of `ce-type`. */
  aggregateType: string | undefined;
  /** `Outbox-Aggregate-Id`, else `ce-subject`. */
  aggregateId: string | undefined;
  /** `Outbox-Partition`, else `ce-outboxpartition`. */
  partition: number | undefined;
  /**
   * `Outbox-Seq`, else `ce-outboxseq`: the event's position in the outbox; a consumer can tell a gap in one aggregate
   * by it.
   */
  seq: number | undefined;
  /** The parsed JSON payload; null when the payload could not be parsed (see `parseError`). */
  payload: unknown;
  /**
   * The payload as it arrived, UTF-8 decoded: the writer's bytes exactly (`Buffer.from(payloadText)` gives them back),
   * e.g. to check a signature over them. Absent for an empty message and for a payload that is not UTF-8.
   */
  payloadText?: string;
  /** Every header, first value of each. */
  headers: Record<string, string>;
  /** `Outbox-Replay-Of`, else `ce-outboxreplayof`. */
  replayOf: string | undefined;
  /** `Outbox-Correlation-Id`, else `ce-correlationid`. */
  correlationId: string | undefined;
  /** `traceparent`, else `ce-traceparent`. */
  traceparent: string | undefined;
  /** Set when the payload is not UTF-8 JSON; such an event is dead-lettered without calling the handler. */
  parseError?: string;
  /** The payload text, kept only when it could not be parsed. */
  rawPayload?: string;
}

const MSG_ID = 'Nats-Msg-Id';

/** A message's headers, first value of each. */
function headersOf(m: JsMsg): Record<string, string> {
  const headers: Record<string, string> = {};
  if (m.headers) for (const [name, values] of m.headers) if (values[0] !== undefined) headers[name] = values[0];
  return headers;
}

/**
 * The two ways to read a field: the relay's own header by its exact name, or a CloudEvents header matched
 * case-insensitively (as the binding asks) and percent-decoded. Empty values count as absent.
 */
function headerReaders(headers: Record<string, string>) {
  let lowerCase: Map<string, string> | undefined;
  return {
    plain: (name: string): string | undefined => (headers[name] === undefined || headers[name] === '' ? undefined : headers[name]),
    cloudEvent: (name: string): string | undefined => {
      lowerCase ??= new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
      const raw = lowerCase.get(name);
      const value = raw === undefined ? undefined : decodeCloudEventsHeaderValue(raw);
      return value === '' ? undefined : value;
    },
  };
}

/** `ce-type` as the relay writes it, `<aggregateType>.<eventType>`; a type without a dot is all event type. */
function splitCloudEventsType(type: string | undefined): { aggregateType?: string; eventType?: string } {
  if (type === undefined) return {};
  const dot = type.lastIndexOf('.');
  return dot < 0 ? { eventType: type } : { aggregateType: type.slice(0, dot) || undefined, eventType: type.slice(dot + 1) || undefined };
}

/**
 * The key that keeps one aggregate's events in order in a consumer (`Outbox-Aggregate-Id`, else `ce-subject`), read
 * before the payload is parsed: the same key in every header mode, so a change of mode keeps the order.
 */
export function aggregateKeyOf(m: JsMsg): string {
  const outbox = m.headers?.get(OutboxHeaders.aggregateId);
  if (outbox) return outbox;
  return (m.headers && headerReaders(headersOf(m)).cloudEvent(CloudEventsHeaders.subject)) || `seq:${m.seq}`;
}

/** Reads the event out of a JetStream message. Never throws: an unparseable payload is reported in `parseError`. */
export function inboxEventFromMsg(m: JsMsg): InboxEvent {
  const headers = headersOf(m);
  const { plain, cloudEvent } = headerReaders(headers);
  const O = OutboxHeaders;
  const ce = CloudEventsHeaders;
  const int = (text: string | undefined) => (text !== undefined && Number.isSafeInteger(Number(text)) ? Number(text) : undefined);
  const type = splitCloudEventsType(cloudEvent(ce.type));
  const event: InboxEvent = {
    eventId: plain(O.eventId) ?? cloudEvent(ce.id) ?? plain(MSG_ID) ?? `${m.info.stream}:${m.seq}`,
    eventType: plain(O.eventType) ?? type.eventType ?? m.subject.slice(m.subject.lastIndexOf('.') + 1),
    subject: m.subject,
    streamSeq: m.seq,
    deliveryCount: m.info.deliveryCount,
    aggregateType: plain(O.aggregateType) ?? type.aggregateType,
    aggregateId: plain(O.aggregateId) ?? cloudEvent(ce.subject),
    partition: int(plain(O.partition) ?? cloudEvent(ce.partition)),
    seq: int(plain(O.seq) ?? cloudEvent(ce.seq)),
    payload: null,
    headers,
    replayOf: plain(O.replayOf) ?? cloudEvent(ce.replayOf),
    correlationId: plain(O.correlationId) ?? cloudEvent(ce.correlationId),
    traceparent: plain('traceparent') ?? cloudEvent(ce.traceparent),
  };
  if (m.data.length === 0) return event;
  let text: string;
  try {
    // ignoreBOM keeps a leading byte order mark in the text, so that payloadText is every byte that arrived.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(m.data);
  } catch {
    event.parseError = 'payload is not valid UTF-8';
    event.rawPayload = Buffer.from(m.data).toString('base64');
    return event;
  }
  event.payloadText = text;
  try {
    event.payload = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    event.parseError = `payload is not JSON (${(error as Error).message})`;
    event.rawPayload = text;
  }
  return event;
}
