import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { EventValidationError, PayloadTooLargeError, toFieldIssues } from './errors';

/** A JSON value: what a payload may hold. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Headers carried with the event to the stream. Known keys are validated; others must be strings. */
export interface EventHeaders {
  /** Correlates the event with the request that caused it. */
  correlationId?: string;
  /** W3C trace context of the transaction that wrote the event. */
  traceparent?: string;
  tracestate?: string;
  /**
   * Marks a re-publication of event `replayOf`: published with its own `Nats-Msg-Id` but with `Outbox-Event-Id` =
   * `replayOf`, so consumers' inboxes treat it as that event (see `outboxctl replay`).
   */
  replayOf?: string;
  [name: string]: string | undefined;
}

/** What a caller hands to `enqueue`. */
export interface OutboxEventInput {
  /** Event id (uuid); generated when absent. Becomes the stream's `Nats-Msg-Id`, so retries deduplicate. */
  id?: string;
  /** Subject token, e.g. `Order`. */
  aggregateType: string;
  /** The aggregate's identity; events of one aggregate are published in commit order. */
  aggregateId: string;
  /** Subject token, e.g. `OrderCreated`. */
  eventType: string;
  payload: JsonValue;
  headers?: EventHeaders;
}

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

const headerValue = z.string().max(4096).regex(/^[^\r\n]*$/, 'must not contain line breaks');

const eventSchema = z.object({
  id: z.uuid({ message: 'must be a UUID' }).optional(),
  aggregateType: subjectToken,
  aggregateId: z.string().min(1, 'must not be empty').max(256),
  eventType: subjectToken,
  payload: z.unknown().refine((v) => v !== undefined, 'is required'),
  headers: z
    .record(z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,63}$/, 'header names are letters, digits and "-"'), headerValue)
    .refine((h) => Object.keys(h).length <= 32, 'at most 32 headers')
    .and(
      z.object({
        traceparent: z
          .string()
          .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, 'must be a W3C traceparent')
          .optional(),
      }),
    )
    .optional(),
});

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
    let payloadJson: string;
    try {
      payloadJson = JSON.stringify(event.payload);
    } catch (error) {
      issues.push({ path: at('payload'), message: `is not serializable to JSON (${(error as Error).message})` });
      continue;
    }
    if (payloadJson === undefined) {
      issues.push({ path: at('payload'), message: 'is not a JSON value' });
      continue;
    }
    const headersJson = JSON.stringify(event.headers ?? {});
    const id = event.id ?? randomUUID();
    const size = Buffer.byteLength(payloadJson) + Buffer.byteLength(headersJson);
    if (size > maxPayloadBytes) throw new PayloadTooLargeError(at('payload'), id, size, maxPayloadBytes);
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
