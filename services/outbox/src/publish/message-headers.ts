import type { MsgHdrs } from '@nats-io/nats-core';
import { MessageHeaders } from './message-headers-impl';
import type { MessageHeaderMode } from '../config';
import type { OutboxRecord } from '../outbox-record';
import { isReservedHeaderName } from '../write/event';

/** Header names the relay sets in modes `outbox` and `both` (besides `Nats-Msg-Id`, which carries the row's id). */
export const OutboxHeaders = {
  eventId: 'Outbox-Event-Id',
  eventType: 'Outbox-Event-Type',
  aggregateType: 'Outbox-Aggregate-Type',
  aggregateId: 'Outbox-Aggregate-Id',
  partition: 'Outbox-Partition',
  seq: 'Outbox-Seq',
  correlationId: 'Outbox-Correlation-Id',
  /** Set on a re-publication of an already published (or consumer-dead-lettered) event: the original event id. */
  replayOf: 'Outbox-Replay-Of',
} as const;

/**
 * Header names the relay sets in modes `cloudevents` and `both`: CloudEvents 1.0 in binary content mode, as the
 * NATS protocol binding maps attributes (`ce-` + the attribute's name, lower case; the payload is the event's
 * `data`). The last five carry extension attributes: `traceparent`/`tracestate` (Distributed Tracing extension),
 * `correlationid` (Correlation extension) and the outbox's own, named so that a CloudEvents SDK lists them among
 * the event's extensions.
 */
export const CloudEventsHeaders = {
  specVersion: 'ce-specversion',
  id: 'ce-id',
  source: 'ce-source',
  type: 'ce-type',
  subject: 'ce-subject',
  time: 'ce-time',
  /** The binding maps `datacontenttype` to `ce-datacontenttype` (what the Go SDK writes and reads)... */
  dataContentType: 'ce-datacontenttype',
  /** ...and the Java SDK to `content-type` (the Go SDK reads it too): both are set, with the same value. */
  contentType: 'content-type',
  traceparent: 'ce-traceparent',
  tracestate: 'ce-tracestate',
  correlationId: 'ce-correlationid',
  partition: 'ce-outboxpartition',
  seq: 'ce-outboxseq',
  replayOf: 'ce-outboxreplayof',
} as const;

const CLOUDEVENTS_NAMES = new Set<string>(Object.values(CloudEventsHeaders));

/**
 * True for a header the relay sets itself in some mode: JetStream's (`Nats-*`), the relay's (`Outbox-*`) and the
 * CloudEvents headers above. A consumer that re-enqueues an event it received (a replay) must not carry these over
 * as the application's own headers. Case-insensitive, as NATS headers are.
 */
export function isRelayHeaderName(name: string): boolean {
  return isReservedHeaderName(name) || CLOUDEVENTS_NAMES.has(name.toLowerCase());
}

/** Printable US-ASCII but space, `"` and `%`: what a CloudEvents header value may hold without percent-encoding. */
const TRAVELS_AS_IS = /^[\x21\x23\x24\x26-\x7e]*$/;

/**
 * A CloudEvents attribute value as a NATS header value (NATS binding 3.1.3.2): every character outside printable
 * ASCII, and space, `"` and `%`, becomes the `%XX` escapes of its UTF-8 bytes (upper-case hex). An aggregate id
 * "café 1" travels as `caf%C3%A9%201`; CloudEvents SDKs decode it.
 */
export function encodeCloudEventsHeaderValue(value: string): string {
  if (TRAVELS_AS_IS.test(value)) return value;
  let out = '';
  for (const character of value) {
    if (TRAVELS_AS_IS.test(character)) out += character;
    else for (const byte of Buffer.from(character, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * A CloudEvents header value back to the attribute's value: a double-quoted string unquoted first (older binding
 * versions let producers quote), then one round of percent-decoding. Undefined when the escapes are not valid UTF-8
 * (the binding says such a value must be rejected; the caller then treats the attribute as absent).
 */
export function decodeCloudEventsHeaderValue(raw: string): string | undefined {
  const unquoted = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1).replace(/\\(.)/gs, '$1') : raw;
  if (!unquoted.includes('%')) return unquoted;
  try {
    return decodeURIComponent(unquoted);
  } catch {
    return undefined;
  }
}

/** How the relay writes its headers: the mode, and the CloudEvents `source` used in modes `cloudevents` and `both`. */
export interface MessageHeaderOptions {
  mode: MessageHeaderMode;
  cloudEventsSource: string;
}

/**
 * The headers of one event's message. Always: the application's own headers (never under a name the relay sets in
 * this mode: rows written before enqueue refused reserved names, or by hand, must not override the relay's) and
 * `Nats-Msg-Id` = the row's own id (the stream's dedup key). Then the mode's headers. A replay row (header
 * `replayOf`) carries the ORIGINAL event id in `Outbox-Event-Id` and in `ce-id`, which is what consumers' inboxes
 * key on (and what CloudEvents readers treat as the same event, with the same `source`): a consumer that processed
 * the original skips the replay, one that lost its inbox row processes it again.
 */
export function buildMessageHeaders(record: OutboxRecord, options: MessageHeaderOptions): MsgHdrs {
  const h = new MessageHeaders();
  const { correlationId, replayOf, ...custom } = record.headers;
  const cloudEvents = options.mode !== 'outbox';
  for (const [name, value] of Object.entries(custom)) {
    if (isReservedHeaderName(name) || (cloudEvents && CLOUDEVENTS_NAMES.has(name.toLowerCase()))) continue;
    h.set(name, value);
  }
  h.set('Nats-Msg-Id', record.id);
  const eventId = replayOf ?? record.id;
  if (options.mode !== 'cloudevents') {
    h.set(OutboxHeaders.eventId, eventId);
    h.set(OutboxHeaders.eventType, record.eventType);
    h.set(OutboxHeaders.aggregateType, record.aggregateType);
    h.set(OutboxHeaders.aggregateId, record.aggregateId);
    h.set(OutboxHeaders.partition, String(record.partition));
    h.set(OutboxHeaders.seq, record.seq);
    if (correlationId !== undefined) h.set(OutboxHeaders.correlationId, correlationId);
    if (replayOf !== undefined) h.set(OutboxHeaders.replayOf, replayOf);
  }
  if (cloudEvents) {
    const ce = CloudEventsHeaders;
    const encode = encodeCloudEventsHeaderValue;
    h.set(ce.specVersion, '1.0');
    h.set(ce.id, encode(eventId));
    h.set(ce.source, encode(options.cloudEventsSource));
    // Event types are unique per aggregate type only (subjects are <prefix>.<aggregateType>.<eventType>), so the
    // type names both: `Order.OrderCreated`. Neither part can hold a dot, so a reader splits at the last one.
    h.set(ce.type, `${record.aggregateType}.${record.eventType}`);
    h.set(ce.subject, encode(record.aggregateId));
    h.set(ce.time, record.createdAt.toISOString());
    h.set(ce.dataContentType, 'application/json');
    h.set(ce.contentType, 'application/json');
    // The writer's trace context, the same as the plain traceparent/tracestate headers: the extension carries the
    // trace that started the event's journey, which is the writer's (the relay adds no hop of its own to messages).
    if (custom.traceparent !== undefined) h.set(ce.traceparent, encode(custom.traceparent));
    if (custom.tracestate !== undefined) h.set(ce.tracestate, encode(custom.tracestate));
    if (correlationId !== undefined) h.set(ce.correlationId, encode(correlationId));
    h.set(ce.partition, String(record.partition));
    h.set(ce.seq, record.seq);
    if (replayOf !== undefined) h.set(ce.replayOf, encode(replayOf));
  }
  return h;
}

/** The partition a stored message names, in whichever mode it was published ('' when it names none). */
export function partitionHeaderOf(h: MsgHdrs): string {
  return h.get(OutboxHeaders.partition) || h.get(CloudEventsHeaders.partition);
}
