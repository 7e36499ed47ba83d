import { OperatorMetrics } from '../../src/metrics';

describe('OperatorMetrics', () => {
  test('renders counters and gauges in the Prometheus text format, labels sorted and escaped', () => {
    const metrics = new OperatorMetrics();
    metrics.reconciles.inc({ result: 'success' });
    metrics.reconciles.inc({ result: 'success' });
    metrics.reconciles.inc({ result: 'error' });
    metrics.informerRestarts.inc({ reason: 'error', informer: 'pods' });
    metrics.events.inc({ type: 'Warning', reason: 'say "hi"\n' });
    metrics.leader.set(1);
    const text = metrics.render();
    expect(text).toContain('# TYPE outbox_operator_reconciles_total counter\n');
    expect(text).toContain('outbox_operator_reconciles_total{result="success"} 2\n');
    expect(text).toContain('outbox_operator_reconciles_total{result="error"} 1\n');
    expect(text).toContain('outbox_operator_informer_restarts_total{informer="pods",reason="error"} 1\n');
    expect(text).toContain('outbox_operator_events_total{reason="say \\"hi\\"\\n",type="Warning"} 1\n');
    expect(text).toContain('# TYPE outbox_operator_leader gauge\noutbox_operator_leader 1\n');
    expect(text.endsWith('\n')).toBe(true);
  });
});
