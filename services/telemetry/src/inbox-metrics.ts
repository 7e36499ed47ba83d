import type { Registry } from 'prom-client';
import { SnapshotCounter } from './snapshot-counter';

/** The counts `InboxConsumer.stats()` keeps (@outbox-relay/inbox), cumulative since the consumer started. */
export interface InboxCounts {
  processed: number;
  duplicates: number;
  failed: number;
  retried: number;
  deadLettered: number;
  infrastructureErrors: number;
}

const SERIES: Array<{ field: keyof InboxCounts; name: string; help: string }> = [
  { field: 'processed', name: 'inbox_events_processed_total', help: 'Events whose handler committed (exactly once per consumer and event).' },
  { field: 'duplicates', name: 'inbox_duplicate_events_total', help: 'Deliveries skipped because the inbox already had the event (redeliveries, re-publishes, replays).' },
  { field: 'failed', name: 'inbox_handler_failures_total', help: 'Failed handler attempts (each one rolled back).' },
  { field: 'retried', name: 'inbox_retries_total', help: 'Failures negatively acknowledged for a later retry with backoff.' },
  { field: 'deadLettered', name: 'inbox_dead_letters_total', help: 'Events given up and written to inbox_dead_letters.' },
  { field: 'infrastructureErrors', name: 'inbox_infrastructure_errors_total', help: 'Redeliveries asked for because the database (not the handler) failed.' },
];

/** Inbox consumer totals per consumer name, read from each consumer's stats at scrape time. */
export class InboxMetrics {
  private readonly sources = new Map<string, () => InboxCounts | null>();

  constructor(registry: Registry) {
    for (const series of SERIES) {
      new SnapshotCounter(registry, { name: series.name, help: series.help, labelNames: ['consumer'] }, () => this.read(series.field));
    }
  }

  /** Reports `consumer`'s counts; `stats` may return null while the consumer is not running. */
  track(consumer: string, stats: () => InboxCounts | null): void {
    this.sources.set(consumer, stats);
  }

  private *read(field: keyof InboxCounts): Iterable<{ labels: { consumer: string }; value: number }> {
    for (const [consumer, stats] of this.sources) {
      const counts = stats();
      if (counts) yield { labels: { consumer }, value: counts[field] };
    }
  }
}
