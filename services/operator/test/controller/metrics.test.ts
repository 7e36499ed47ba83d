import { OperatorMetrics } from '../../src/metrics';

describe('OperatorMetrics', () => {
  test('exposes its counters, gauges and histogram through the prom-client registry, labels escaped', async () => {
    const metrics = new OperatorMetrics();
    metrics.reconciles.inc({ result: 'success' });
    metrics.reconciles.inc({ result: 'success' });
    metrics.reconciles.inc({ result: 'error' });
    metrics.reconcileDuration.observe({ result: 'success' }, 0.02);
    metrics.informerRestarts.inc({ informer: 'pods', reason: 'error' });
    metrics.events.inc({ type: 'Warning', reason: 'say "hi"\n' });
    metrics.leader.set(1);
    const text = await metrics.service.text();
    expect(text).toContain('# TYPE outbox_operator_reconciles_total counter\n');
    expect(text).toContain('outbox_operator_reconciles_total{result="success"} 2\n');
    expect(text).toContain('outbox_operator_reconciles_total{result="error"} 1\n');
    expect(text).toContain('outbox_operator_reconcile_duration_seconds_bucket{le="0.025",result="success"} 1\n');
    expect(text).toContain('outbox_operator_informer_restarts_total{informer="pods",reason="error"} 1\n');
    expect(text).toContain('outbox_operator_events_total{type="Warning",reason="say \\"hi\\"\\n"} 1\n');
    expect(text).toContain('# TYPE outbox_operator_leader gauge\noutbox_operator_leader 1\n');
    // The process metrics every service exposes come with the same registry.
    expect(text).toContain('# TYPE process_cpu_seconds_total counter');
    expect(await metrics.value(metrics.reconciles, { result: 'success' })).toBe(2);
    expect(await metrics.value(metrics.actions, { kind: 'StepDown', outcome: 'done' })).toBe(0);
  });
});
