import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import { linksTo, outboxTracer } from './telemetry';

/**
 * OpenTelemetry's messaging semantic conventions (spans: `{operation} {destination}`, NATS: `messaging.system` =
 * `nats`, the subject as `messaging.destination.name`). The attribute names are still "development" in semconv, so
 * they are written out here, as OpenTelemetry advises for incubating names, rather than imported from the package's
 * unstable entry point (whose minor versions may rename them); tests compare them with that entry point.
 */
export const MessagingAttributes = {
  system: 'messaging.system',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  destinationName: 'messaging.destination.name',
  messageId: 'messaging.message.id',
  consumerGroupName: 'messaging.consumer.group.name',
  batchMessageCount: 'messaging.batch.message_count',
  errorType: 'error.type',
} as const;

export const MESSAGING_SYSTEM_NATS = 'nats';

/** The operation types this system performs; each is also the operation's name, so span names read `send <subject>`. */
export type MessagingOperation = 'send' | 'process' | 'receive';

/** The attributes every messaging span of this system carries. `messageId` only for spans about one message. */
export function messagingAttributes(operation: MessagingOperation, destination: string, messageId?: string): Attributes {
  const attributes: Attributes = {
    [MessagingAttributes.system]: MESSAGING_SYSTEM_NATS,
    [MessagingAttributes.operationType]: operation,
    [MessagingAttributes.operationName]: operation,
    [MessagingAttributes.destinationName]: destination,
  };
  if (messageId !== undefined) attributes[MessagingAttributes.messageId] = messageId;
  return attributes;
}

/** `{messaging.operation.name} {destination}`. */
export function messagingSpanName(operation: MessagingOperation, destination: string): string {
  return `${operation} ${destination}`;
}

/** Marks `span` failed: the error's class as `error.type` (low cardinality), `message` (default its message) as the status. */
export function recordMessagingError(span: Span, error: unknown, message = error instanceof Error ? error.message : String(error)): void {
  const type = error instanceof Error ? (error.name === 'Error' ? error.constructor.name : error.name) : '';
  span.setAttribute(MessagingAttributes.errorType, type || '_OTHER');
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** What a send span needs to know of the event it sends. */
export interface SentEvent {
  id: string;
  partition: number;
  headers: Record<string, string>;
}

/**
 * One PRODUCER span per message the relay sends, `send <subject>`, from the hand-over to NATS to the stream's
 * acknowledgement. It is the root of its own trace and LINKS to the trace that wrote the event: the message carries
 * the writer's context (the creation context), so consumers continue the writer's trace, not the relay's. Without
 * an SDK the span is a no-op and `publish` runs as it would without it.
 */
export function traceSend<T extends { duplicate: boolean }>(subject: string, event: SentEvent, publish: () => Promise<T>): Promise<T> {
  const span = outboxTracer().startSpan(messagingSpanName('send', subject), { kind: SpanKind.PRODUCER }, ROOT_CONTEXT);
  if (!span.isRecording()) {
    span.end();
    return callPublish(publish);
  }
  // Only a recording span (tracing on) pays for its attributes and for reading the event's trace context: this
  // runs once per published event.
  span.setAttributes({ ...messagingAttributes('send', subject, event.id), 'outbox.partition': event.partition });
  span.addLinks(linksTo([event]));
  return callPublish(publish).then(
    (ack) => {
      if (ack.duplicate) span.setAttribute('outbox.duplicate', true);
      span.end();
      return ack;
    },
    (error: unknown) => {
      recordMessagingError(span, error);
      span.end();
      throw error;
    },
  );
}

/** A throw while handing the message over becomes a rejection, as a failed publish would be. */
function callPublish<T>(publish: () => Promise<T>): Promise<T> {
  try {
    return publish();
  } catch (error) {
    return Promise.reject(error);
  }
}
