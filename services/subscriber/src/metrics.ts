import { Counter, type Registry } from '@outbox-relay/telemetry';
import type { DeliveryOutcome } from './consumer';

/** `subscriber_events_total{consumer, outcome}`: every delivery, acked (processed), naked (failed) or terminated. */
export class SubscriberMetrics {
  private readonly events: Counter<'consumer' | 'outcome'>;

  constructor(registry: Registry, private readonly consumer: string) {
    this.events = new Counter({
      name: 'subscriber_events_total',
      help: 'Deliveries handled by this subscriber, by durable consumer and outcome (processed, failed = redelivery requested, terminated = unparseable).',
      labelNames: ['consumer', 'outcome'],
      registers: [registry],
    });
    // Every outcome exists from the start, so rate() and alerts see 0 rather than no data.
    for (const outcome of ['processed', 'failed', 'terminated'] as const) this.events.inc({ consumer, outcome }, 0);
  }

  readonly delivered = (outcome: DeliveryOutcome): void => {
    this.events.inc({ consumer: this.consumer, outcome });
  };
}
