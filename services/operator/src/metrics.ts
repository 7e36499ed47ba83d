import { Counter, Gauge, Histogram } from 'prom-client';
import { ServiceMetrics } from '@outbox-relay/telemetry';

/**
 * The operator's metrics, in the process's one prom-client registry (telemetry's ServiceMetrics, with the process
 * and Node.js runtime metrics every service exposes); one instance per operator, passed down. Label values are
 * bounded: results, informer names, action kinds, Event types and reasons come from fixed sets in the code.
 */
export class OperatorMetrics {
  readonly reconciles: Counter<'result'>;
  readonly reconcileDuration: Histogram<'result'>;
  readonly queueDepth: Gauge;
  readonly informerRestarts: Counter<'informer' | 'reason'>;
  readonly actions: Counter<'kind' | 'outcome'>;
  readonly events: Counter<'type' | 'reason'>;
  readonly statusConflicts: Counter;
  readonly leader: Gauge;

  constructor(readonly service: ServiceMetrics = new ServiceMetrics()) {
    const registers = [service.registry];
    this.reconciles = new Counter({ name: 'outbox_operator_reconciles_total', help: 'Reconciles of OutboxRelays by result (success, error).', labelNames: ['result'], registers });
    this.reconcileDuration = new Histogram({
      name: 'outbox_operator_reconcile_duration_seconds',
      help: 'Time one reconcile of an OutboxRelay took, by result.',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.queueDepth = new Gauge({ name: 'outbox_operator_queue_depth', help: 'OutboxRelay keys waiting to be reconciled.', registers });
    this.informerRestarts = new Counter({
      name: 'outbox_operator_informer_restarts_total',
      help: 'Informer restarts by informer and reason (error, relist).',
      labelNames: ['informer', 'reason'],
      registers,
    });
    this.actions = new Counter({
      name: 'outbox_operator_failover_actions_total',
      help: 'Failover and switchover actions by kind (StepDown, EvictPod) and outcome (done, gone, blocked, failed, skipped).',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.events = new Counter({ name: 'outbox_operator_events_total', help: 'Kubernetes Events emitted, by type and reason.', labelNames: ['type', 'reason'], registers });
    this.statusConflicts = new Counter({
      name: 'outbox_operator_status_conflicts_total',
      help: 'Status writes refused because the OutboxRelay changed since it was read (another writer, possibly another operator); nothing was acted on.',
      registers,
    });
    this.leader = new Gauge({ name: 'outbox_operator_leader', help: '1 while this operator replica holds the leader Lease.', registers });
  }

  /** The current value of a counter or gauge for `labels` (0 when never touched): for tests and status lines. */
  async value(metric: Counter<string> | Gauge<string>, labels: Record<string, string> = {}): Promise<number> {
    const { values } = await metric.get();
    const keys = Object.keys(labels);
    const match = values.find(
      (v) => Object.keys(v.labels).length === keys.length && keys.every((k) => String(v.labels[k]) === labels[k]),
    );
    return match?.value ?? 0;
  }
}
