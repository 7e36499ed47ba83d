/**
 * helm/outbox-relay-operator's prometheus-operator objects: the relay PodMonitor, the operator's ServiceMonitor and
 * the PrometheusRule. Off by default; when on, each is checked against the subset of its CRD in
 * support/prometheus-operator-schemas.ts, against what it must select (the pods the operator creates, the chart's
 * metrics Service), and every rule expression is parsed with Prometheus's own PromQL grammar. That each metric an
 * alert names exists is operator-chart-alert-metrics.test.ts.
 */
import type { OutboxRelayResource, OutboxRelaySpec } from '../../services/operator/src/api/types';
import { selectorLabels } from '../../services/operator/src/reconcile/metadata';
import { CONTAINER_NAME, podTemplate } from '../../services/operator/src/reconcile/pod-template';
import { renderChart, renderChartFailure } from './support/helm';
import { findObject, selects, type KubeObject } from './support/kube-objects';
import { readYaml, validateObject, validateOutboxRelay } from './support/kube-schemas';
import { checkPromql } from './support/promql';
import { alertRules, type AlertRule } from './support/prometheus-rules';

const CHART = 'helm/outbox-relay-operator';
const NAMESPACE = 'outbox-relay-system';
const FULLNAME = 'ops-outbox-relay-operator';
const ALL_ON = { 'metrics.relayPodMonitor.enabled': true, 'metrics.serviceMonitor.enabled': true, 'metrics.prometheusRule.enabled': true };
const render = (set: Record<string, string | number | boolean> = {}) => renderChart(CHART, { release: 'ops', namespace: NAMESPACE, set });
/** The relay pods' label that holds the OutboxRelay's name (checked against the operator's selectorLabels below). */
const INSTANCE_LABEL = 'app.kubernetes.io/instance';
const monitoringObjects = (objects: KubeObject[]) => objects.filter((o) => o.apiVersion === 'monitoring.coreos.com/v1');

/** Prometheus's Kubernetes service discovery name for a pod label: every character outside [a-zA-Z0-9_] becomes _. */
const podLabelMeta = (label: string) => `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9_]/g, '_')}`;

/** A relay pod as the operator creates it for deploy/samples/outboxrelay.yaml (defaults filled in as the API server would). */
function sampleRelay(): OutboxRelayResource {
  const admitted = validateOutboxRelay(readYaml('deploy/samples/outboxrelay.yaml'));
  expect(admitted.errors).toEqual([]);
  return { ...admitted.defaulted, metadata: { name: 'orders-relay', namespace: 'shop', uid: 'u-1' } } as OutboxRelayResource;
}
function samplePod() {
  const relay = sampleRelay();
  return podTemplate(relay, relay.spec as OutboxRelaySpec, { image: "ghcr.io/outbox-relay/outbox-relay:test", secretsHash: "0" });
}

test('off by default: no prometheus-operator object (its CRDs may not exist)', () => {
  expect(monitoringObjects(render())).toEqual([]);
});

test('each switch renders its object, and each object passes the subset of its CRD', () => {
  const kinds = (set: Record<string, boolean>) => monitoringObjects(render(set)).map((o) => o.kind);
  expect(kinds({ 'metrics.relayPodMonitor.enabled': true })).toEqual(['PodMonitor']);
  expect(kinds({ 'metrics.serviceMonitor.enabled': true })).toEqual(['ServiceMonitor']);
  expect(kinds({ 'metrics.prometheusRule.enabled': true })).toEqual(['PrometheusRule']);
  const objects = monitoringObjects(render({ ...ALL_ON, 'metrics.serviceMonitor.labels.release': 'kube-prometheus-stack' }));
  expect(objects).toHaveLength(3);
  for (const object of objects) {
    expect(() => validateObject(object)).not.toThrow();
    expect(object.metadata.namespace).toBe(NAMESPACE);
  }
  expect(findObject(objects, 'ServiceMonitor').metadata.labels?.release).toBe('kube-prometheus-stack');
});

test('the subset refuses what the real CRDs refuse: a field they do not have, a bad duration', () => {
  const podMonitor = findObject(render(ALL_ON), 'PodMonitor');
  const withUnknown = { ...podMonitor, spec: { ...podMonitor.spec, scrapeEvery: '30s' } };
  expect(() => validateObject(withUnknown)).toThrow('spec.scrapeEvery: field not declared in schema');
  const badInterval = { ...podMonitor, spec: { ...podMonitor.spec, podMetricsEndpoints: [{ ...podMonitor.spec.podMetricsEndpoints[0], interval: '30 seconds' }] } };
  expect(() => validateObject(badInterval)).toThrow('spec.podMetricsEndpoints.0.interval');
});

describe('the relay PodMonitor', () => {
  const podMonitor = findObject(render(ALL_ON), 'PodMonitor', `${FULLNAME}-relays`);
  const endpoint = podMonitor.spec.podMetricsEndpoints[0];

  test("selects the relay pods the operator creates, on their container's named port, at /metrics", () => {
    const pod = samplePod();
    expect(selects(podMonitor.spec.selector.matchLabels, pod.metadata?.labels)).toBe(true);
    const container = pod.spec!.containers.find((c) => c.name === CONTAINER_NAME)!;
    expect(container.ports?.map((p) => p.name)).toContain(endpoint.port);
    expect(endpoint.path).toBe('/metrics');
    expect(endpoint).toMatchObject({ interval: '30s', scrapeTimeout: '10s' });
  });

  test('does not select the operator pods of the chart itself', () => {
    const operatorPod = findObject(render(), 'Deployment').spec.template;
    expect(selects(podMonitor.spec.selector.matchLabels, operatorPod.metadata.labels)).toBe(false);
  });

  test("job and the outbox_relay label are the OutboxRelay's name, taken from a label every relay pod carries", () => {
    const labels = samplePod().metadata!.labels!;
    expect(podMonitor.spec.jobLabel).toBe(INSTANCE_LABEL);
    expect(selectorLabels(sampleRelay())[INSTANCE_LABEL]).toBe('orders-relay');
    expect(labels[INSTANCE_LABEL]).toBe('orders-relay');
    expect(endpoint.relabelings).toEqual([{ sourceLabels: [podLabelMeta(INSTANCE_LABEL)], targetLabel: 'outbox_relay' }]);
  });

  test('cluster scope watches every namespace; namespace scope only the watched one', () => {
    expect(podMonitor.spec.namespaceSelector).toEqual({ any: true });
    const scoped = findObject(render({ ...ALL_ON, 'watch.scope': 'namespace', 'watch.namespace': 'shop' }), 'PodMonitor');
    expect(scoped.spec.namespaceSelector).toEqual({ matchNames: ['shop'] });
  });
});

describe("the operator's ServiceMonitor", () => {
  test("selects the chart's metrics Service, in the release namespace, on its named port", () => {
    const objects = render(ALL_ON);
    const serviceMonitor = findObject(objects, 'ServiceMonitor', FULLNAME);
    const service = findObject(objects, 'Service', `${FULLNAME}-metrics`);
    expect(selects(serviceMonitor.spec.selector.matchLabels, service.metadata.labels)).toBe(true);
    expect(serviceMonitor.spec.namespaceSelector).toEqual({ matchNames: [service.metadata.namespace] });
    expect(service.spec.ports.map((p: { name: string }) => p.name)).toContain(serviceMonitor.spec.endpoints[0].port);
    expect(serviceMonitor.spec.endpoints[0].path).toBe('/metrics');
  });

  test('is refused without the metrics Service, saying so', () => {
    const run = renderChartFailure(CHART, { set: { 'metrics.serviceMonitor.enabled': true, 'metrics.service.enabled': false } });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('metrics.serviceMonitor.enabled needs metrics.service.enabled');
  });
});

describe('the PrometheusRule', () => {
  const rules = alertRules(render(ALL_ON));

  test('has the alerts that matter, in two groups', () => {
    expect(rules.map((r) => `${r.group}/${r.alert}`)).toEqual([
      'outbox-relay.relays/OutboxRelayPartitionWithoutLeader',
      'outbox-relay.relays/OutboxRelayOldestPendingEvent',
      'outbox-relay.relays/OutboxRelayDeadLetters',
      'outbox-relay.relays/OutboxRelayCrashLooping',
      'outbox-relay.operator/OutboxRelayPodsUnreachable',
      'outbox-relay.operator/OutboxRelayReconcileErrors',
      'outbox-relay.operator/OutboxRelayOperatorWithoutLeader',
    ]);
  });

  test.each(rules.map((r) => [r.alert, r] as [string, AlertRule]))('%s: valid PromQL, a severity, a summary, a description and a for', (_name, rule) => {
    expect(checkPromql(rule.expr).errors).toEqual([]);
    expect(['critical', 'warning']).toContain(rule.labels.severity);
    expect(rule.annotations.summary).toMatch(/\S/);
    expect(rule.annotations.description).toMatch(/\S/);
    expect(rule.for).toMatch(/^\d+[smh]$/);
    // Prometheus's alert templates ({{ $labels.x }}) came through helm untouched and name labels the expression keeps.
    for (const [, label] of `${rule.annotations.summary} ${rule.annotations.description}`.matchAll(/\$labels\.([a-z_]+)/g)) {
      expect(rule.expr).toContain(label);
    }
  });

  test("the relay alerts select by the PodMonitor's outbox_relay label; the operator's by the ServiceMonitor's job and namespace", () => {
    for (const rule of rules.filter((r) => r.group === 'outbox-relay.relays')) expect(rule.expr).toContain('outbox_relay!=""');
    for (const rule of rules.filter((r) => r.group === 'outbox-relay.operator')) {
      // prometheus-operator names a ServiceMonitor's job after the Service.
      expect(rule.expr).toContain(`job="${FULLNAME}-metrics", namespace="${NAMESPACE}"`);
    }
  });

  test('thresholds, windows, for and severity come from values', () => {
    const tuned = alertRules(
      render({
        ...ALL_ON,
        'metrics.prometheusRule.alerts.oldestPendingEvent.thresholdSeconds': 42,
        'metrics.prometheusRule.alerts.oldestPendingEvent.for': '7m',
        'metrics.prometheusRule.alerts.oldestPendingEvent.severity': 'page',
        'metrics.prometheusRule.alerts.relayCrashLooping.restarts': 9,
        'metrics.prometheusRule.alerts.relayCrashLooping.window': '1h',
        'metrics.prometheusRule.alerts.deadLetters.window': '30m',
        'metrics.prometheusRule.alerts.reconcileErrors.threshold': 5,
      }),
    );
    const rule = (name: string) => tuned.find((r) => r.alert === name)!;
    expect(rule('OutboxRelayOldestPendingEvent')).toMatchObject({ for: '7m', labels: { severity: 'page' } });
    expect(rule('OutboxRelayOldestPendingEvent').expr).toMatch(/\) > 42$/);
    expect(rule('OutboxRelayCrashLooping').expr).toContain('[1h]) >= 9)');
    expect(rule('OutboxRelayDeadLetters').expr).toContain('[30m]');
    expect(rule('OutboxRelayDeadLetters').expr).toContain('offset 30m');
    expect(rule('OutboxRelayReconcileErrors').expr).toMatch(/\) > 5$/);
    for (const r of tuned) expect(checkPromql(r.expr).errors).toEqual([]);
  });

  test('an alert can be turned off; a group with none left is left out', () => {
    const set: Record<string, boolean> = { ...ALL_ON };
    for (const name of ['podsUnreachable', 'reconcileErrors', 'operatorWithoutLeader', 'deadLetters']) set[`metrics.prometheusRule.alerts.${name}.enabled`] = false;
    const rule = findObject(render(set), 'PrometheusRule');
    expect(rule.spec.groups.map((g: { name: string }) => g.name)).toEqual(['outbox-relay.relays']);
    expect(alertRules([rule]).map((r) => r.alert)).toEqual(['OutboxRelayPartitionWithoutLeader', 'OutboxRelayOldestPendingEvent', 'OutboxRelayCrashLooping']);
  });

  test('bad alert values are refused by the schema, naming the field', () => {
    const refused = (set: Record<string, string | number>, field: string) => {
      const run = renderChartFailure(CHART, { set: { ...ALL_ON, ...set } });
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain(field);
    };
    refused({ 'metrics.prometheusRule.alerts.oldestPendingEvent.thresholdSeconds': 0 }, "'/metrics/prometheusRule/alerts/oldestPendingEvent/thresholdSeconds'");
    refused({ 'metrics.prometheusRule.alerts.deadLetters.window': '15 minutes' }, "'/metrics/prometheusRule/alerts/deadLetters/window'");
    refused({ 'metrics.prometheusRule.alerts.deadLetters.windw': '15m' }, "additional properties 'windw' not allowed");
    refused({ 'metrics.relayPodMonitor.interval': '0s' }, "'/metrics/relayPodMonitor/interval'");
  });
});
