import { renderChart, renderChartFailure } from './support/helm';

const OPERATOR = 'helm/outbox-relay-operator';
const DEMO = 'helm/outbox-relay-demo';

type Set = Record<string, string | number | boolean>;

/**
 * Bad values must stop `helm install` (here: `helm template`, which runs the same schema and template checks)
 * with a message that names the field. Each row: chart, --set values, text the error must contain.
 */
const refusedBySchema: Array<[string, Set, string]> = [
  [OPERATOR, { replicaCount: 0 }, "'/replicaCount': minimum"],
  [OPERATOR, { replicas: 2 }, "additional properties 'replicas' not allowed"],
  [OPERATOR, { logLevel: 'loud' }, "'/logLevel': value must be one of"],
  [OPERATOR, { 'image.pullPolicy': 'Sometimes' }, "'/image/pullPolicy'"],
  [OPERATOR, { 'image.tag': 2 }, "'/image/tag': got number, want string"],
  [OPERATOR, { 'image.digest': 'sha256:xyz' }, "'/image/digest'"],
  [OPERATOR, { 'watch.scope': 'galaxy' }, "'/watch/scope'"],
  [OPERATOR, { 'watch.namespace': 'Not_A_Namespace' }, "'/watch/namespace'"],
  [OPERATOR, { 'leaderElection.enabled': false }, "'/replicaCount': maximum: got 2, want 1"],
  [OPERATOR, { 'leaderElection.leaseDurationMs': 10 }, "'/leaderElection/leaseDurationMs': minimum"],
  [OPERATOR, { 'reconcile.workers': 64 }, "'/reconcile/workers': maximum"],
  [OPERATOR, { httpPort: 70000 }, "'/httpPort': maximum"],
  [OPERATOR, { 'resources.limits.memory': 'lots' }, "'/resources/limits/memory'"],
  [OPERATOR, { 'metrics.service.type': 'Headless' }, "'/metrics/service/type'"],
  [OPERATOR, { terminationGracePeriodSeconds: 5 }, "'/terminationGracePeriodSeconds': minimum"],
  [DEMO, { 'orders.replicas': -1 }, "'/orders/replicas': minimum"],
  [DEMO, { 'orders.replica': 3 }, "additional properties 'replica' not allowed"],
  [DEMO, { 'database.url': 'mysql://db/orders' }, "'/database/url'"],
  [DEMO, { 'nats.url': 'http://nats:4222' }, "'/nats/url'"],
  [DEMO, { 'nats.stream': 'has.dots' }, "'/nats/stream'"],
  [DEMO, { 'nats.messageHeaders': 'json' }, "'/nats/messageHeaders': value must be one of"],
  [DEMO, { 'nats.cloudEventsSource': '/my orders' }, "'/nats/cloudEventsSource'"],
  [DEMO, { 'outbox.schema': 'Outbox-Schema' }, "'/outbox/schema'"],
  [DEMO, { 'outbox.partitions': 0 }, "'/outbox/partitions': minimum"],
  [DEMO, { 'orders.service.type': 'NodePort', 'orders.service.nodePort': 80 }, "'/orders/service/nodePort'"],
  [DEMO, { 'payments.fakeGateway.successRate': 2 }, "'/payments/fakeGateway/successRate': maximum"],
  [DEMO, { 'payments.fakeGateway.latencyMs': 60_000 }, "'/payments/fakeGateway/latencyMs': maximum"],
  [DEMO, { 'outboxRelay.name': 'Orders_Relay' }, "'/outboxRelay/name'"],
  [DEMO, { 'subscribers.filter': 'orders..bad' }, "'/subscribers/filter'"],
  [DEMO, { logLevel: 'verbose' }, "'/logLevel'"],
];

/** Rules that compare two values; the charts' templates refuse them naming both fields. */
const refusedByTemplate: Array<[string, Set, string]> = [
  [OPERATOR, { 'leaderElection.renewDeadlineMs': 20_000 }, 'leaderElection.renewDeadlineMs (20000) must be below leaderElection.leaseDurationMs (15000)'],
  [OPERATOR, { 'leaderElection.retryPeriodMs': 12_000 }, 'leaderElection.retryPeriodMs (12000) must be below leaderElection.renewDeadlineMs (10000)'],
  [OPERATOR, { 'podDisruptionBudget.minAvailable': 2 }, 'podDisruptionBudget.minAvailable (2) must be below replicaCount (2)'],
  [OPERATOR, { 'serviceAccount.create': false }, 'serviceAccount.name is required when serviceAccount.create is false'],
  [DEMO, { 'outboxRelay.renewIntervalMs': 1500 }, 'outboxRelay.renewIntervalMs (1500) must be at most half of outboxRelay.leaseDurationMs (2000)'],
  [DEMO, { 'nats.duplicateWindowSeconds': 10 }, 'nats.duplicateWindowSeconds (10) must be at least 10 x outboxRelay.leaseDurationMs (2000 ms)'],
  [DEMO, { 'nats.duplicateWindowSeconds': 86_400 }, 'nats.duplicateWindowSeconds (86400) must be at most 60480 with the payment worker enabled'],
];

describe('values.schema.json and the charts refuse bad values, naming the field', () => {
  test.each(refusedBySchema)('%s --set %j is refused by the schema', (chart, set, message) => {
    const run = renderChartFailure(chart, { set });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain("values don't meet the specifications of the schema");
    expect(run.stderr).toContain(message);
  });

  test.each(refusedByTemplate)('%s --set %j is refused by the chart', (chart, set, message) => {
    const run = renderChartFailure(chart, { set });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(message);
  });

  test('the neighbours of the refused values are accepted (the rules are not stricter than they say)', () => {
    expect(() => renderChart(OPERATOR, { set: { 'leaderElection.enabled': false, replicaCount: 1 } })).not.toThrow();
    expect(() => renderChart(OPERATOR, { set: { 'leaderElection.renewDeadlineMs': 14_999, 'leaderElection.retryPeriodMs': 14_998 } })).not.toThrow();
    expect(() => renderChart(OPERATOR, { set: { 'serviceAccount.create': false, 'serviceAccount.name': 'existing' } })).not.toThrow();
    expect(() => renderChart(OPERATOR, { setString: { 'image.tag': '2' } })).not.toThrow();
    expect(() => renderChart(DEMO, { set: { 'outboxRelay.renewIntervalMs': 1000, 'nats.duplicateWindowSeconds': 20 } })).not.toThrow();
    expect(() => renderChart(DEMO, { set: { 'payments.enabled': false, 'nats.duplicateWindowSeconds': 86_400 } })).not.toThrow();
  });
});
