import { reconcile } from '../../src/reconcile';
import type { OutboxRelaySpecInput } from '../../src/api/defaults';
import { makeRelay, observe } from '../reconcile/fixtures';
import { validateManifest } from './k8s-models';

const SPECS: Array<[string, OutboxRelaySpecInput]> = [
  ['defaults', {}],
  ['scaled to zero', { replicas: 0 }],
  ['many partitions, large batches', { replicas: 5, partitionCount: 64, batchSize: 10_000 }],
  ['NATS credentials and a pull policy', { imagePullPolicy: 'IfNotPresent', nats: { url: 'tls://nats:4222', credentialsSecretRef: { name: 'nats-creds', key: 'user.creds' } } }],
  ['explicit resources', { resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '512Mi' } } }],
];

describe('every object reconcile produces is a valid Kubernetes object (kubernetes-models 4.5.1)', () => {
  test.each(SPECS)('%s', (_title, spec) => {
    const { objects } = reconcile(observe(makeRelay({ spec }), []));
    expect(objects.map((o) => o.kind)).toEqual(['ServiceAccount', 'Service', 'PodDisruptionBudget', 'Deployment']);
    for (const object of objects) expect(() => validateManifest(object)).not.toThrow();
  });

  test('the validator is not a rubber stamp: a broken Deployment is rejected with its path', () => {
    const [, , , deployment] = reconcile(observe(makeRelay(), [])).objects;
    const broken = JSON.parse(JSON.stringify(deployment));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => validateManifest(broken)).toThrow(/Deployment orders is invalid: .*containers\/0\/ports\/0\/containerPort/);
  });
});
