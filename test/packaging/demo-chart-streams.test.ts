/**
 * The demo chart's stream ownership, NATS credentials and TLS values: every component and the OutboxRelay get the
 * same settings, each service accepts its environment, the Secrets are mounted where the variables point, and
 * values the relays would refuse fail the install.
 */
import { ordersEnvSchema } from '../../services/orders/src/config';
import { DEMO_CHART, DEMO_COMPONENTS, DEMO_NAMESPACE, DEMO_PREFIX, DEMO_RELEASE, serviceConfig } from './support/demo-chart';
import { renderChart, renderChartFailure } from './support/helm';
import { findObject, onlyContainer, podTemplateOf } from './support/kube-objects';
import { validateObject, validateOutboxRelay } from './support/kube-schemas';

const CHART = DEMO_CHART;
const PREFIX = DEMO_PREFIX;
const COMPONENTS = DEMO_COMPONENTS;
type Set = Record<string, string | number | boolean>;
const options = (set: Set) => ({ release: DEMO_RELEASE, namespace: DEMO_NAMESPACE, set });

const PLATFORM_OWNED: Set = {
  'nats.url': 'tls://nats.nats.svc:4222',
  'nats.streamManagement': 'verify',
  'nats.streamLimits.replicas': 3,
  'nats.streamLimits.storage': 'file',
  'nats.streamLimits.maxAgeSeconds': 86400,
  'nats.streamLimits.maxBytes': 1073741824,
  'nats.streamLimits.maxMessages': 0,
  'nats.streamLimits.discard': 'new',
  'nats.credentials.secretName': 'nats-user',
  'nats.credentials.key': 'user.creds',
  'nats.tls.secretName': 'nats-client-tls',
  'nats.tls.caKey': 'ca.crt',
  'nats.tls.certKey': 'tls.crt',
  'nats.tls.keyKey': 'tls.key',
};

test('every component gets the stream settings, the credentials and the TLS files, and accepts them', () => {
  const objects = renderChart(CHART, options(PLATFORM_OWNED));
  for (const object of objects) expect(() => validateObject(object)).not.toThrow();
  for (const { kind, suffix, schema } of COMPONENTS) {
    const workload = findObject(objects, kind, `${PREFIX}-${suffix}`);
    expect(serviceConfig(objects, workload, schema)).toMatchObject({
      OUTBOX_STREAM_MANAGEMENT: 'verify',
      OUTBOX_STREAM_REPLICAS: 3,
      OUTBOX_STREAM_STORAGE: 'file',
      OUTBOX_STREAM_MAX_AGE_MS: 86_400_000,
      OUTBOX_STREAM_MAX_BYTES: 1_073_741_824,
      OUTBOX_STREAM_MAX_MSGS: 0,
      OUTBOX_STREAM_DISCARD: 'new',
      NATS_CREDS_FILE: '/var/run/secrets/nats/user.creds',
      NATS_TLS_CA_FILE: '/var/run/secrets/nats-tls/ca.crt',
      NATS_TLS_CERT_FILE: '/var/run/secrets/nats-tls/tls.crt',
      NATS_TLS_KEY_FILE: '/var/run/secrets/nats-tls/tls.key',
    });
    expect(onlyContainer(workload).volumeMounts).toEqual([
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'nats-credentials', mountPath: '/var/run/secrets/nats', readOnly: true },
      { name: 'nats-tls', mountPath: '/var/run/secrets/nats-tls', readOnly: true },
    ]);
    expect(podTemplateOf(workload).spec!.volumes).toContainEqual({
      name: 'nats-tls',
      secret: {
        secretName: 'nats-client-tls',
        items: [
          { key: 'ca.crt', path: 'ca.crt' },
          { key: 'tls.crt', path: 'tls.crt' },
          { key: 'tls.key', path: 'tls.key' },
        ],
        defaultMode: 0o440,
      },
    });
  }
});

test('the OutboxRelay gets the same settings as its spec fields, valid for the CRD', () => {
  const relay = findObject(renderChart(CHART, options(PLATFORM_OWNED)), 'OutboxRelay', 'orders-relay');
  expect(relay.spec.nats).toMatchObject({
    streamManagement: 'verify',
    streamLimits: { replicas: 3, storage: 'file', maxAgeSeconds: 86400, maxBytes: 1073741824, maxMessages: 0, discard: 'new' },
    credentialsSecretRef: { name: 'nats-user', key: 'user.creds' },
    tls: { secretName: 'nats-client-tls', caKey: 'ca.crt', certKey: 'tls.crt', keyKey: 'tls.key' },
  });
  expect(validateOutboxRelay(relay).valid).toBe(true);
});

test('by default: create mode, the server\'s limits, no credentials and no TLS files', () => {
  const objects = renderChart(CHART, options({}));
  const orders = serviceConfig(objects, findObject(objects, 'Deployment', `${PREFIX}-orders`), ordersEnvSchema);
  expect(orders.OUTBOX_STREAM_MANAGEMENT).toBe('create');
  expect(Object.keys(orders).filter((name) => /^OUTBOX_STREAM_(?!MANAGEMENT)|^NATS_(CREDS|TLS)/.test(name))).toEqual([]);
  const nats = findObject(objects, 'OutboxRelay', 'orders-relay').spec.nats;
  expect(nats.streamManagement).toBe('create');
  expect(nats).not.toHaveProperty('streamLimits');
  expect(nats).not.toHaveProperty('tls');
  expect(nats).not.toHaveProperty('credentialsSecretRef');
});

test.each([
  [{ 'nats.streamLimits.maxAgeSeconds': 60 }, 'nats.streamLimits.maxAgeSeconds (60) must be 0 (no limit) or at least nats.duplicateWindowSeconds (120)'],
  [{ 'nats.tls.secretName': 'nats-client-tls', 'nats.tls.certKey': 'tls.crt' }, 'nats.tls.certKey and nats.tls.keyKey go together'],
  [{ 'nats.tls.secretName': 'nats-client-tls' }, 'nats.tls.secretName is set but names no key'],
  [{ 'nats.streamManagement': 'own' }, 'streamManagement'],
  [{ 'nats.streamLimits.storage': 'disk' }, 'storage'],
])('refuses %j at install', (set, message) => {
  const run = renderChartFailure(CHART, options(set));
  expect(run.status).not.toBe(0);
  expect(run.stderr).toContain(message);
});
