import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { openAPIV3Schema } from '../../src/api/crd';
import { withDefaults } from '../../src/api/defaults';
import { BAD_RELAYS } from '../reconcile/bad-specs';
import { compileCrdValidator } from '../support/crd-validator';

const validate = compileCrdValidator(openAPIV3Schema);
const repoRoot = path.resolve(__dirname, '../../../..');
const sample = YAML.parse(fs.readFileSync(path.join(repoRoot, 'deploy/samples/outboxrelay.yaml'), 'utf8'));
const resource = (spec: unknown, name = 'orders') => ({
  apiVersion: 'outbox-relay.dev/v1alpha1',
  kind: 'OutboxRelay',
  metadata: { name, namespace: 'shop' },
  spec,
});

describe('OutboxRelay instances against the CRD schema', () => {
  test('the sample is valid', () => {
    expect(validate(sample).errors).toEqual([]);
  });

  test('the API server\'s defaults equal the operator\'s: a minimal resource defaults to withDefaults()', () => {
    const minimal = { database: { secretRef: { name: 'db', key: 'url' } }, nats: { url: 'nats://n:4222' } };
    const result = validate(resource(minimal));
    expect(result.valid).toBe(true);
    expect(result.defaulted.spec).toEqual(withDefaults(minimal));
  });

  test.each(BAD_RELAYS)('rejects $title, naming $field', ({ name, spec, field }) => {
    const result = validate(resource(spec, name));
    expect(result.valid).toBe(false);
    expect(result.fields).toContain(field);
  });

  test.each([
    ['a misspelt field', { ...sample.spec, replica: 3 }, 'spec.replica'],
    ['a string where an integer belongs', { ...sample.spec, replicas: '3' }, 'spec.replicas'],
    ['a missing database', { nats: sample.spec.nats }, 'spec.database'],
    ['a secret reference without a key', { ...sample.spec, database: { secretRef: { name: 'db' } } }, 'spec.database.secretRef.key'],
    ['a missing NATS URL', { ...sample.spec, nats: { stream: 'X' } }, 'spec.nats.url'],
    ['a malformed quantity', { ...sample.spec, resources: { limits: { memory: 'lots' } } }, 'spec.resources.limits.memory'],
    ['a phase-like field the schema does not know', { ...sample.spec, phase: 'Running' }, 'spec.phase'],
    ['an empty image', { ...sample.spec, image: '' }, 'spec.image'],
    ['a misspelt toleration operator', { ...sample.spec, template: { pod: { tolerations: [{ key: 'a', operator: 'Equals' }] } } }, 'spec.template.pod.tolerations.0.operator'],
    ['a topology spread without its skew', { ...sample.spec, template: { pod: { topologySpreadConstraints: [{ topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' }] } } }, 'spec.template.pod.topologySpreadConstraints.0.maxSkew'],
    ['an affinity weight over 100', { ...sample.spec, template: { pod: { affinity: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 101, podAffinityTerm: { topologyKey: 'zone' } }] } } } } }, 'spec.template.pod.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution.0.weight'],
    ['a pod spec field the template does not offer', { ...sample.spec, template: { pod: { hostNetwork: true } } }, 'spec.template.pod.hostNetwork'],
    ['an env var without a name', { ...sample.spec, template: { container: { env: [{ value: 'x' }] } } }, 'spec.template.container.env.0.name'],
    ['an image pull secret without a name (the list\'s map key)', { ...sample.spec, template: { pod: { imagePullSecrets: [{}] } } }, 'spec.template.pod.imagePullSecrets.0.name'],
  ])('rejects %s', (_title, spec, field) => {
    const result = validate(resource(spec));
    expect(result.fields).toContain(field);
  });

  test('a resource without spec.image keeps none after admission: the operator fills in its own default at each reconcile', () => {
    const minimal = { database: { secretRef: { name: 'db', key: 'url' } }, nats: { url: 'nats://n:4222' } };
    expect((validate(resource(minimal)).defaulted.spec as { image?: string }).image).toBeUndefined();
  });

  test('a resource without spec is rejected', () => {
    expect(validate({ apiVersion: 'outbox-relay.dev/v1alpha1', kind: 'OutboxRelay', metadata: { name: 'x' } }).fields).toEqual(['spec']);
  });

  test('error messages name the field and say what is wrong, CEL rules with their own message', () => {
    const result = validate(resource({ ...sample.spec, leaseDurationMs: 2000, renewIntervalMs: 1500 }));
    expect(result.errors).toEqual([
      'spec.renewIntervalMs: renewIntervalMs must be at most half of leaseDurationMs, so a lease survives one missed renewal',
    ]);
    expect(validate(resource({ ...sample.spec, partitionCount: 0 })).errors).toEqual(['spec.partitionCount: must be >= 1']);
  });

  test('status written by the operator fits the status schema', () => {
    const status = {
      observedGeneration: 3,
      replicas: 2,
      readyReplicas: 2,
      selector: 'app.kubernetes.io/name=outbox-relay,app.kubernetes.io/instance=orders',
      currentLeader: 'orders-7d9c-abcde',
      leaderEpoch: 12,
      leaderSince: '2025-06-01T12:00:00.000Z',
      partitionLeaders: [{ partition: 0, pod: 'orders-7d9c-abcde', epoch: 12 }],
      conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: '2 of 2 pods ready', lastTransitionTime: '2025-06-01T12:00:00.000Z', observedGeneration: 3 }],
    };
    expect(validate({ ...sample, status }).errors).toEqual([]);
    expect(validate({ ...sample, status: { ...status, phase: 'Running' } }).fields).toEqual(['status.phase']);
  });
});
