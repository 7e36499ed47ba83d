import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { toFieldIssues, type FieldIssue } from '@outbox-relay/runtime';
import { EventValidationError, PayloadTooLargeError } from '../errors';

/** A JSON value: what a payload may hold. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Headers carried with the event to the stream. Known keys are validated; others must be strings. */
export interface EventHeaders {
  /** Correlates the event with the request that caused it. */
  correlationId?: string;
  /** W3C trace context of the transaction that wrote the event. */
  traceparent?: string;
  tracestate?: string;
  /** W3C baggage of the transaction that wrote the event: consumers see it in their context. */
  baggage?: string;
  /**
   * Marks a re-publication of event `replayOf`: published with its own `Nats-Msg-Id` but with `Outbox-Event-Id` =
   * `replayOf`, so consumers' inboxes treat it as that event (see `outboxctl replay`).
   */
  replayOf?: string;
  [name: string]: string | undefined;
}

/** What a caller hands to `enqueue`: the event's fields and its payload, as a value or as JSON text. */
export type OutboxEventInput = OutboxEventFields & OutboxEventPayload;

export interface OutboxEventFields {
  /** Event id (uuid); generated when absent. Becomes the stream's `Nats-Msg-Id`, so retries deduplicate. */
  id?: string;
  /** Subject token, e.g. `Order`. */
  aggregateType: string;
  /** The aggregate's identity; events of one aggregate are published in commit order. */
  aggregateId: string;
  /** Subject token, e.g. `OrderCreated`. */
  eventType: string;
  headers?: EventHeaders;
}

/**
 * The payload, one way or the other. Consumers get the message body as these bytes: `JSON.stringify(payload)`, or
 * `payloadJson` exactly as given (key order, whitespace, escapes, numbers of any size), for payloads that are
 * signed or must otherwise arrive byte for byte.
 */
export type OutboxEventPayload = { payload: JsonValue; payloadJson?: undefined } | { payloadJson: string; payload?: undefined };

/** A validated event ready to insert: payload and headers already serialized once. */
export interface PreparedEvent {
  id: string;
  aggregateType: string;
  aggregateId: string;
  eventType: string;
  payloadJson: string;
  headersJson: string;
}

/** 1 MiB is the NATS server's default max_payload; stay well below it to leave room for headers. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 512 * 1024;

// Subject tokens: no dots, wildcards or whitespace (they would change the subject's meaning).
const subjectToken = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,127}$/, 'must be 1-128 letters, digits, "_" or "-", starting with a letter');

/**
 * Values that travel as NATS header values. The client refuses CR and LF (a throw at publish time, for every
 * retry of the event), trims leading and trailing whitespace (the consumer would see another value), and other
 * control characters are not valid in a header field; so all of these are refused here, before anything is written.
 */
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
const travelsAsHeaderValue = (schema: z.ZodString) =>
  schema
    .refine((v) => !CONTROL_CHARACTER.test(v), 'must not contain control characters (line breaks, tabs, NUL, ...)')
    .refine((v) => v.trim() === v, 'must not start or end with whitespace (NATS trims header values)');

/** The longest header value; W3C baggage that is longer loses members before it is stored (activeTraceHeaders). */
export const MAX_HEADER_VALUE_CHARS = 4096;

const headerValue = travelsAsHeaderValue(z.string().max(MAX_HEADER_VALUE_CHARS));

/**
 * Header names the relay or the NATS server give a meaning to. `Nats-*` are JetStream's (`Nats-Msg-Id` is the
 * stream's dedup key, `Nats-Expected-*` and `Nats-Rollup` change what the server stores); `Outbox-*` are the
 * relay's own (`Outbox-Event-Id` is what inboxes key on). A custom header under these names would silently
 * override the relay's or turn into an error retried forever, so it is refused. Case-insensitive, as NATS headers are.
 */
export const RESERVED_HEADER_PREFIXES = ['nats-', 'outbox-'] as const;

export function isReservedHeaderName(name: string): boolean {
  const lower = name.toLowerCase();
  return RESERVED_HEADER_PREFIXES.some((prefix) => lower.startsWith(prefix));
}

const HEADER_NAME = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const MAX_HEADERS = 32;


/**
 * Every header is checked by hand rather than by a record's key schema: zod drops a key that fails its key schema
 * without an issue, and a header silently dropped is an event changed without telling anyone.
 */
const eventHeaders = z.record(z.string(), z.string({ message: 'must be a string' })).superRefine((headers, ctx) => {
  const names = Object.keys(headers);
  if (names.length > MAX_HEADERS) ctx.addIssue({ code: 'custom', path: [], message: `at most ${MAX_HEADERS} headers` });
  for (const name of names) {
    const issue = (message: string) => ctx.addIssue({ code: 'custom', path: [name], message });
    if (!HEADER_NAME.test(name)) issue('header names are 1-64 letters, digits and "-", starting with a letter');
    else if (isReservedHeaderName(name)) {
      issue(`is reserved (names starting with ${RESERVED_HEADER_PREFIXES.map((p) => `"${p}"`).join(' or ')} belong to the relay and JetStream)`);
    }
    const value = headers[name]!;
    for (const i of headerValue.safeParse(value).error?.issues ?? []) issue(i.message);
    if (name === 'traceparent' && !TRACEPARENT.test(value)) issue('must be a W3C traceparent');
  }
});

const eventSchema = z
  .object({
    id: z.uuid({ message: 'must be a UUID' }).optional(),
    aggregateType: subjectToken,
    aggregateId: travelsAsHeaderValue(z.string().min(1, 'must not be empty').max(256)),
    eventType: subjectToken,
    payload: z.unknown().optional(),
    payloadJson: z.string({ message: 'must be a string of JSON text' }).optional(),
    headers: eventHeaders.optional(),
  })
  .superRefine((event, ctx) => {
    if (event.payload === undefined && event.payloadJson === undefined) {
      ctx.addIssue({ code: 'custom', path: ['payload'], message: 'is required (or payloadJson, the payload as JSON text)' });
    } else if (event.payload !== undefined && event.payloadJson !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['payloadJson'], message: 'must not be given with payload (one or the other)' });
    }
  });

/** A lone surrogate (half of a UTF-16 pair): UTF-8 cannot carry it, the way to Postgres turns it into U+FFFD. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The payload's text as it will be stored and published, or the issue that refuses it. `payloadJson` is taken as it
 * is: Postgres's json type reads the grammar JSON.parse reads and keeps the text; a lone surrogate would change the
 * bytes without a word, so it is refused. A `payload` value is serialized once.
 */
function payloadText(event: { payload?: unknown; payloadJson?: string }): { text: string } | FieldIssue {
  if (event.payloadJson !== undefined) {
    if (LONE_SURROGATE.test(event.payloadJson)) {
      return { path: 'payloadJson', message: 'must be well-formed Unicode (it holds a lone surrogate, which UTF-8 cannot carry)' };
    }
    try {
      JSON.parse(event.payloadJson);
    } catch (error) {
      return { path: 'payloadJson', message: `is not JSON (${(error as Error).message})` };
    }
    return { text: event.payloadJson };
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(event.payload);
  } catch (error) {
    return { path: 'payload', message: `is not serializable to JSON (${(error as Error).message})` };
  }
  return text === undefined ? { path: 'payload', message: 'is not a JSON value' } : { text };
}

/**
 * Validates events and serializes each payload once. Throws `EventValidationError` naming every bad field
 * (paths like `[1].aggregateId` for arrays) or `PayloadTooLargeError`; never returns a partial result.
 */
export function prepareEvents(input: OutboxEventInput | OutboxEventInput[], maxPayloadBytes: number): PreparedEvent[] {
  const many = Array.isArray(input);
  const list = many ? input : [input];
  if (list.length === 0) throw new EventValidationError([{ path: '(root)', message: 'no events given' }]);
  const prepared: PreparedEvent[] = [];
  const issues = [];
  for (const [index, raw] of list.entries()) {
    const prefix = many ? `[${index}]` : '';
    const parsed = eventSchema.safeParse(raw);
    if (!parsed.success) {
      issues.push(...toFieldIssues(parsed.error.issues, prefix));
      continue;
    }
    const event = parsed.data;
    const at = (field: string) => (prefix ? `${prefix}.${field}` : field);
    const payload = payloadText(event);
    if (!('text' in payload)) {
      issues.push({ path: at(payload.path), message: payload.message });
      continue;
    }
    const payloadJson = payload.text;
    const headersJson = JSON.stringify(event.headers ?? {});
    const id = event.id ?? randomUUID();
    const size = Buffer.byteLength(payloadJson) + Buffer.byteLength(headersJson);
    if (size > maxPayloadBytes) throw new PayloadTooLargeError(at(event.payloadJson !== undefined ? 'payloadJson' : 'payload'), id, size, maxPayloadBytes);
    prepared.push({
      id,
      aggregateType: event.aggregateType,
      aggregateId: event.aggregateId,
      eventType: event.eventType,
      payloadJson,
      headersJson,
    });
  }
  if (issues.length > 0) throw new EventValidationError(issues);
  return prepared;
}
