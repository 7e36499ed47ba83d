import type { OutboxRelaySpecInput } from '../../src/api/defaults';
import { withDefaults } from '../../src/api/defaults';
import type { V1Deployment } from '../../src/api/k8s-types';
import { reconcile } from '../../src/reconcile';
import { OPERATOR_ENV_NAMES, relayEnv } from '../../src/reconcile/env';
import { SECRETS_HASH_ANNOTATION } from '../../src/reconcile/secrets';
import { validateRelay } from '../../src/reconcile/validate';
import { makePod, makeRelay, observe, OPERATOR_RELAY_IMAGE } from './fixtures';

const deploymentOf = (spec: OutboxRelaySpecInput, options: Parameters<typeof observe>[2] = {}): V1Deployment => {
  const objects = reconcile(observe(makeRelay({ spec }), [], options)).objects;
  const deployment = objects.find((o) => o.kind === 'Deployment') as V1Deployment | undefined;
  if (!deployment) throw new Error(`no Deployment applied; objects: ${objects.map((o) => o.kind).join(', ')}`);
  return deployment;
};

const TEMPLATE: OutboxRelaySpecInput['template'] = {
  pod: {
    metadata: {
      labels: { team: 'payments', 'app.kubernetes.io/instance': 'hijack', 'app.kubernetes.io/name': 'other' },
      annotations: { 'prometheus.io/scrape': 'true', [SECRETS_HASH_ANNOTATION]: 'forged' },
    },
    imagePullSecrets: [{ name: 'registry-creds' }],
    nodeSelector: { 'kubernetes.io/arch': 'arm64' },
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['relays'] }] }],
        },
      },
    },
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'relays', effect: 'NoSchedule' }],
    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' }],
    priorityClassName: 'relay-critical',
  },
  container: {
    env: [
      { name: 'NODE_OPTIONS', value: '--max-old-space-size=200' },
      { name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'tokens', key: 'api' } } },
    ],
    envFrom: [{ secretRef: { name: 'extra-env' } }, { configMapRef: { name: 'relay-tuning' }, prefix: 'TUNING_' }],
  },
};

describe('the relay image', () => {
  test('unset: the operator\'s default (its RELAY_IMAGE), reported in the status; spec.image overrides it', () => {
    const relay = makeRelay();
    expect(relay.spec.image).toBeUndefined();
    const result = reconcile(observe(relay, []));
    const image = (result.objects.find((o) => o.kind === 'Deployment') as V1Deployment).spec?.template.spec?.containers[0]?.image;
    expect(image).toBe(OPERATOR_RELAY_IMAGE);
    expect(result.status.image).toBe(OPERATOR_RELAY_IMAGE);

    const pinned = reconcile(observe(makeRelay({ spec: { image: 'registry.local/relay:9' } }), []));
    expect((pinned.objects.find((o) => o.kind === 'Deployment') as V1Deployment).spec?.template.spec?.containers[0]?.image).toBe('registry.local/relay:9');
    expect(pinned.status.image).toBe('registry.local/relay:9');
  });

  test('while nothing is applied (paused), the status keeps the image last applied rather than one not running', () => {
    const paused = makeRelay({ spec: { paused: true }, status: { image: 'registry.local/relay:old' } });
    expect(reconcile(observe(paused, [])).status.image).toBe('registry.local/relay:old');
  });

  test('the CRD no longer freezes a default image into the spec', () => {
    expect(withDefaults({}).image).toBeUndefined();
  });

  test('an empty spec.image is refused by name', () => {
    const relay = makeRelay({ spec: { image: '' } });
    expect(validateRelay(relay, relay.spec).map((i) => i.field)).toEqual(['spec.image']);
  });
});

describe('spec.template', () => {
  test('scheduling fields reach the pod spec as given', () => {
    const pod = deploymentOf({ template: TEMPLATE }).spec?.template.spec;
    expect(pod?.imagePullSecrets).toEqual([{ name: 'registry-creds' }]);
    expect(pod?.nodeSelector).toEqual({ 'kubernetes.io/arch': 'arm64' });
    expect(pod?.tolerations).toEqual(TEMPLATE?.pod?.tolerations);
    expect(pod?.topologySpreadConstraints).toEqual(TEMPLATE?.pod?.topologySpreadConstraints);
    expect(pod?.priorityClassName).toBe('relay-critical');
  });

  test('absent, the pod spec has none of those fields (nothing for the operator to own)', () => {
    const pod = deploymentOf({}).spec?.template.spec ?? {};
    for (const field of ['imagePullSecrets', 'nodeSelector', 'tolerations', 'topologySpreadConstraints', 'priorityClassName']) {
      expect(Object.keys(pod)).not.toContain(field);
    }
    expect(deploymentOf({}).spec?.template.spec?.containers[0]?.envFrom).toBeUndefined();
  });

  test('labels and annotations are added, but the operator\'s keys win, the selector\'s above all', () => {
    const d = deploymentOf({ template: TEMPLATE });
    const metadata = d.spec?.template.metadata;
    expect(metadata?.labels).toEqual({
      team: 'payments',
      'app.kubernetes.io/name': 'outbox-relay',
      'app.kubernetes.io/instance': 'orders',
      'app.kubernetes.io/managed-by': 'outbox-relay-operator',
      'app.kubernetes.io/component': 'relay',
    });
    expect(metadata?.labels).toMatchObject(d.spec?.selector.matchLabels ?? { missing: true });
    expect(metadata?.annotations?.['prometheus.io/scrape']).toBe('true');
    expect(metadata?.annotations?.[SECRETS_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{64}$/);
  });

  test('affinity: the user\'s node affinity is added to the default anti-affinity; their anti-affinity replaces it', () => {
    const added = deploymentOf({ template: TEMPLATE }).spec?.template.spec?.affinity;
    expect(added?.nodeAffinity).toEqual(TEMPLATE?.pod?.affinity?.nodeAffinity);
    expect(added?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');

    const strict = { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'topology.kubernetes.io/zone', labelSelector: { matchLabels: { 'app.kubernetes.io/instance': 'orders' } } }] };
    const replaced = deploymentOf({ template: { pod: { affinity: { podAntiAffinity: strict } } } }).spec?.template.spec?.affinity;
    expect(replaced).toEqual({ podAntiAffinity: strict });
  });

  test('the user\'s env comes after the operator\'s (so $(VAR) can name those); envFrom is passed through', () => {
    const relay = makeRelay({ spec: { template: TEMPLATE } });
    const container = deploymentOf({ template: TEMPLATE }).spec?.template.spec?.containers[0];
    const names = (container?.env ?? []).map((e) => e.name);
    const operatorNames = relayEnv(relay.spec).map((e) => e.name);
    expect(names).toEqual([...operatorNames, 'NODE_OPTIONS', 'API_TOKEN']);
    expect(container?.envFrom).toEqual(TEMPLATE?.container?.envFrom);
  });

  test('every variable the operator sets is in OPERATOR_ENV_NAMES, which user env may not name', () => {
    const full = withDefaults({
      database: { secretRef: { name: 'db', key: 'url' } },
      nats: {
        url: 'tls://n:4222',
        credentialsSecretRef: { name: 'c', key: 'user.creds' },
        tls: { secretName: 't', caKey: 'ca.crt', certKey: 'tls.crt', keyKey: 'tls.key' },
        cloudEventsSource: '/orders',
        streamLimits: { replicas: 3, storage: 'file', maxAgeSeconds: 600, maxBytes: 1, maxMessages: 1, discard: 'old' },
      },
    });
    const set = relayEnv(full).map((e) => e.name);
    expect(set.filter((name) => !OPERATOR_ENV_NAMES.includes(name))).toEqual([]);
    expect(new Set(set)).toEqual(new Set(OPERATOR_ENV_NAMES));
  });
});

describe('spec.template validation', () => {
  const issuesOf = (spec: OutboxRelaySpecInput) => {
    const relay = makeRelay({ spec });
    return validateRelay(relay, relay.spec);
  };

  test.each(['DATABASE_URL', 'NATS_CREDS_FILE', 'LOG_LEVEL', 'OUTBOX_ADMIN_TOKEN_FILE', 'OUTBOX_ADMIN_TOKEN'])('a user variable named %s is refused, naming the field', (name) => {
    const issues = issuesOf({ template: { container: { env: [{ name: 'FINE', value: '1' }, { name, value: 'x' }] } } });
    expect(issues).toEqual([{ field: 'spec.template.container.env[1].name', message: expect.stringContaining(`${name} is set by the operator`) }]);
  });

  test('a variable the operator does not manage is accepted, OUTBOX_ prefix or not', () => {
    expect(issuesOf({ template: { container: { env: [{ name: 'OUTBOX_SOMETHING_NEW', value: '1' }, { name: 'TZ', value: 'UTC' }] } } })).toEqual([]);
  });

  test('a variable listed twice, and labels the API server would refuse, are named', () => {
    expect(issuesOf({ template: { container: { env: [{ name: 'A', value: '1' }, { name: 'A', value: '2' }] } } }).map((i) => i.field)).toEqual([
      'spec.template.container.env[1].name',
    ]);
    expect(issuesOf({ template: { pod: { metadata: { labels: { 'bad key!': 'x' } } } } }).map((i) => i.field)).toEqual(['spec.template.pod.metadata.labels']);
    expect(issuesOf({ template: { pod: { metadata: { labels: { team: 'has space' } } } } }).map((i) => i.field)).toEqual(['spec.template.pod.metadata.labels']);
    expect(issuesOf({ template: { pod: { metadata: { annotations: { 'Example.com/x': 'any value at all' } } } } }).map((i) => i.field)).toEqual([
      'spec.template.pod.metadata.annotations',
    ]);
  });

  test('through reconcile: nothing applied, Degraded and Ready name the field', () => {
    const relay = makeRelay({ spec: { template: { container: { env: [{ name: 'DATABASE_URL', value: 'postgres://elsewhere' }] } } } });
    const result = reconcile(observe(relay, [makePod('orders-a')]));
    expect(result.objects).toEqual([]);
    const degraded = result.status.conditions?.find((c) => c.type === 'Degraded');
    expect(degraded).toMatchObject({ status: 'True', reason: 'InvalidSpec', message: expect.stringContaining('spec.template.container.env[0].name') });
    expect(result.status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
  });
});
