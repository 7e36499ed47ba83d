/**
 * A few counters and gauges in the Prometheus text format (version 0.0.4). prom-client is not a dependency; the
 * operator needs nothing it offers beyond this.
 */
type Labels = Record<string, string>;

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelKey = (labels: Labels) =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escape(labels[k]!)}"`)
    .join(',');

class Metric {
  protected readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
  ) {}

  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [key, value] of this.values) lines.push(`${this.name}${key ? `{${key}}` : ''} ${value}`);
    return lines.join('\n');
  }
}

export class Counter extends Metric {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }
}

export class Gauge extends Metric {
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }
  set(value: number, labels: Labels = {}): void {
    this.values.set(labelKey(labels), value);
  }
}

/** The operator's metrics; one instance per operator, passed down (no global registry). */
export class OperatorMetrics {
  readonly reconciles = new Counter('outbox_operator_reconciles_total', 'Reconciles of OutboxRelays by result (success, error).');
  readonly reconcileSeconds = new Counter('outbox_operator_reconcile_seconds_total', 'Time spent reconciling, in seconds.');
  readonly queueDepth = new Gauge('outbox_operator_queue_depth', 'OutboxRelay keys waiting to be reconciled.');
  readonly informerRestarts = new Counter('outbox_operator_informer_restarts_total', 'Informer restarts by informer and reason (error, relist).');
  readonly actions = new Counter('outbox_operator_failover_actions_total', 'Failover and switchover actions by kind (StepDown, DeletePod) and outcome.');
  readonly events = new Counter('outbox_operator_events_total', 'Kubernetes Events emitted, by type and reason.');
  readonly leader = new Gauge('outbox_operator_leader', '1 while this operator replica holds the leader Lease.');

  render(): string {
    const all = [this.reconciles, this.reconcileSeconds, this.queueDepth, this.informerRestarts, this.actions, this.events, this.leader];
    return all.map((m) => m.render()).join('\n') + '\n';
  }
}
