import { SpanKind, trace, type Span } from '@opentelemetry/api';
import { contextFromHeaders } from '@outbox-relay/outbox';
import { MessagingAttributes, messagingAttributes, messagingSpanName, recordMessagingError } from '@outbox-relay/outbox/internal';
import { describeError } from './errors';
import type { InboxEvent } from './event';

/**
 * Runs `work` in a CONSUMER span `process <subject>` for one delivery of `event` by `consumer` (OpenTelemetry's
 * messaging conventions): a child of the trace that wrote the event (the relay copies the writer's traceparent into
 * the message headers), with the writer's W3C baggage in its context, so whatever `work` writes (its own outbox
 * events included) continues that trace and carries that baggage on. A throw marks the span failed and is rethrown.
 */
export function withConsumerSpan<T>(tracerName: string, consumer: string, event: InboxEvent, work: (span: Span) => Promise<T>): Promise<T> {
  return trace.getTracer(tracerName).startActiveSpan(
    messagingSpanName('process', event.subject),
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        ...messagingAttributes('process', event.subject, event.eventId),
        [MessagingAttributes.consumerGroupName]: consumer,
        'outbox.event_type': event.eventType,
        'outbox.aggregate_id': event.aggregateId ?? '',
        'outbox.delivery_count': event.deliveryCount,
      },
    },
    contextFromHeaders(event.headers),
    async (span) => {
      try {
        return await work(span);
      } catch (error) {
        recordMessagingError(span, error, describeError(error));
        throw error;
      } finally {
        span.end();
      }
    },
  );
}
