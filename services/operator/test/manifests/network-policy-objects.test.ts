import { reconcile } from '../../src/reconcile';
import { desiredAdminSecret } from '../../src/reconcile/admin-token';
import { makeRelay, observe } from '../reconcile/fixtures';
import { validateManifest } from './k8s-models';

const operatorPods = { namespace: 'outbox-relay-system', labels: { 'app.kubernetes.io/name': 'outbox-relay-operator', 'app.kubernetes.io/component': 'operator' } };
const prometheus = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } };

describe('the admin Secret and the NetworkPolicy are valid Kubernetes objects (kubernetes-models 4.5.1)', () => {
  test('the admin Secret', () => {
    expect(() => validateManifest(desiredAdminSecret(makeRelay(), 'a-token'))).not.toThrow();
  });

  test('the NetworkPolicy, with metricsFrom peers of every kind, comes before the Deployment', () => {
    const relay = makeRelay({
      spec: { networkPolicy: { enabled: true, metricsFrom: [prometheus, { ipBlock: { cidr: '10.8.0.0/16', except: ['10.8.1.0/24'] } }] } },
    });
    const { objects } = reconcile({ ...observe(relay, []), operatorPods });
    expect(objects.map((o) => o.kind)).toEqual(['ServiceAccount', 'Service', 'PodDisruptionBudget', 'NetworkPolicy', 'Deployment']);
    const policy = objects[3]!;
    expect(() => validateManifest(policy)).not.toThrow();
    expect((policy as unknown as { spec: object }).spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'outbox-relay', 'app.kubernetes.io/instance': 'orders' } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'outbox-relay-system' } }, podSelector: { matchLabels: operatorPods.labels } },
            prometheus,
            { ipBlock: { cidr: '10.8.0.0/16', except: ['10.8.1.0/24'] } },
          ],
          ports: [{ protocol: 'TCP', port: 8090 }],
        },
      ],
    });
  });

  test('the validator would catch a broken policy (the ingress rule\'s from is not the client model\'s _from)', () => {
    const { objects } = reconcile({ ...observe(makeRelay({ spec: { networkPolicy: { enabled: true } } }), []), operatorPods });
    const broken = JSON.parse(JSON.stringify(objects[3]));
    broken.spec.ingress[0].from = 'operator';
    expect(() => validateManifest(broken)).toThrow(/NetworkPolicy orders is invalid: .*ingress\/0\/from/);
  });
});

describe('spec.networkPolicy in reconcile', () => {
  test('off (the default): no policy; one the operator made is deleted', () => {
    const relay = makeRelay();
    expect(reconcile({ ...observe(relay, []), operatorPods }).objects.map((o) => o.kind)).not.toContain('NetworkPolicy');
    expect(reconcile({ ...observe(relay, []), operatorPods }).deletions).toBeUndefined();
    expect(reconcile({ ...observe(relay, []), operatorPods, networkPolicyExists: true }).deletions).toEqual([
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', namespace: 'shop', name: 'orders' },
    ]);
  });

  test('on, but the operator does not know its own pods: no policy (it would shut the operator out), a Warning instead', () => {
    const result = reconcile(observe(makeRelay({ spec: { networkPolicy: { enabled: true } } }), []));
    expect(result.objects.map((o) => o.kind)).not.toContain('NetworkPolicy');
    expect(result.deletions).toBeUndefined();
    expect(result.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'NetworkPolicyNotCreated' }));
  });

  test('paused: neither made nor deleted', () => {
    const paused = makeRelay({ spec: { paused: true, networkPolicy: { enabled: false } } });
    expect(reconcile({ ...observe(paused, []), operatorPods, networkPolicyExists: true }).deletions).toBeUndefined();
  });
});
