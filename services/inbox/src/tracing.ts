import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { contextFromHeaders } from '@outbox-relay/outbox';
import { describeError } from './errors';
import type { InboxEvent } from './event';

/**
 * Runs `work` in a CONSUMER span for one delivery of `event` by `consumer`: a child of the trace that wrote the
 * event (the relay copies the writer's traceparent into the message headers), so whatever `work` writes (its own
 * outbox events included) continues that trace. A throw marks the span failed and is rethrown.
 */
export function withConsumerSpan<T>(tracerName: string, consumer: string, event: InboxEvent, work: (span: Span) => Promise<T>): Promise<T> {
  return trace.getTracer(tracerName).startActiveSpan(
    `${event.eventType} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.destination.name': event.subject,
        'messaging.consumer.group.name': consumer,
        'messaging.message.id': event.eventId,
        'outbox.aggregate_id': event.aggregateId ?? '',
        'outbox.delivery_count': event.deliveryCount,
      },
    },
    contextFromHeaders(event.headers),
    async (span) => {
      try {
        return await work(span);
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}
