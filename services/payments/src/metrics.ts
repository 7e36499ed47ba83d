import { InboxMetrics, SnapshotCounter, type ServiceMetrics } from '@outbox-relay/telemetry';
import type { PaymentStats } from './worker/payment-worker';

/**
 * The payment worker's own series on the process registry: the inbox consumer totals (InboxMetrics, label
 * `consumer`) and `payments_charges_total{outcome}` — charges committed as paid, and OrderCreated events that found
 * their order already paid. Read from the worker's stats at scrape time; null while the worker is starting.
 */
export function registerPaymentMetrics(metrics: ServiceMetrics, consumer: string, stats: () => PaymentStats | null): void {
  new InboxMetrics(metrics.registry).track(consumer, stats);
  new SnapshotCounter(
    metrics.registry,
    { name: 'payments_charges_total', help: 'Payments committed, by outcome: succeeded (payment SUCCEEDED) or already_paid (nothing charged).', labelNames: ['outcome'] },
    () => {
      const s = stats();
      return s
        ? [
            { labels: { outcome: 'succeeded' }, value: s.succeeded },
            { labels: { outcome: 'already_paid' }, value: s.alreadyPaid },
          ]
        : [];
    },
  );
}
