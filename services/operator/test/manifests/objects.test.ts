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
  [
    'a full pod template',
    {
      image: 'registry.local/relay:9',
      template: {
        pod: {
          metadata: { labels: { team: 'payments' }, annotations: { 'example.com/owner': 'payments' } },
          imagePullSecrets: [{ name: 'registry' }],
          nodeSelector: { pool: 'relays' },
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['relays'] }] }] },
              preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, preference: { matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['node-1'] }] } }],
            },
            podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 5, podAffinityTerm: { topologyKey: 'zone', labelSelector: { matchLabels: { app: 'nats' } } } }] },
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [
                { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchExpressions: [{ key: 'app.kubernetes.io/instance', operator: 'In', values: ['orders'] }] }, matchLabelKeys: ['pod-template-hash'] },
              ],
            },
          },
          tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'relays', effect: 'NoSchedule' }, { operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }],
          topologySpreadConstraints: [
            { maxSkew: 1, minDomains: 2, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', nodeTaintsPolicy: 'Honor', labelSelector: { matchLabels: { 'app.kubernetes.io/instance': 'orders' } } },
          ],
          priorityClassName: 'relay-critical',
        },
        container: {
          env: [
            { name: 'TZ', value: 'UTC' },
            { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'tokens', key: 'api', optional: true } } },
            { name: 'ZONE', valueFrom: { configMapKeyRef: { name: 'cluster', key: 'zone' } } },
            { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
            { name: 'MEMORY', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
          ],
          envFrom: [{ secretRef: { name: 'extra' } }, { configMapRef: { name: 'tuning', optional: true }, prefix: 'TUNING_' }],
        },
      },
    },
  ],
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
