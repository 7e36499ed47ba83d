/**
 * nats.streamManagement, nats.streamLimits and nats.tls: mapped to the relay's variables and mounts, checked like
 * the relay checks them, and the environment produced is one the relay's own schema accepts.
 */
import { relayEnvSchema, relaySettingsFromEnv } from '@outbox-relay/outbox';
import { parseEnv } from '@outbox-relay/runtime';
import { withDefaults } from '../../src/api/defaults';
import { desiredDeployment } from '../../src/reconcile/deployment';
import { validateRelay } from '../../src/reconcile/validate';
import { makeRelay, TEMPLATE_INPUTS } from './fixtures';

const platformOwned = makeRelay({
  spec: {
    nats: {
      url: 'tls://nats.nats.svc:4222',
      streamManagement: 'verify',
      streamLimits: { replicas: 3, storage: 'file', maxAgeSeconds: 86_400, maxBytes: 1_073_741_824, maxMessages: 0, discard: 'new' },
      tls: { secretName: 'nats-client-tls', caKey: 'ca.crt', certKey: 'tls.crt', keyKey: 'tls.key' },
    },
  },
});

function podOf(relay = platformOwned) {
  const pod = desiredDeployment(relay, relay.spec, TEMPLATE_INPUTS).spec!.template.spec!;
  return { pod, container: pod.containers[0]! };
}

function plainEnv(relay = platformOwned): Record<string, string> {
  const env = podOf(relay).container.env ?? [];
  return Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
}

test('maps the stream settings and the TLS files to the relay\'s variables', () => {
  expect(plainEnv()).toMatchObject({
    OUTBOX_STREAM_MANAGEMENT: 'verify',
    OUTBOX_STREAM_REPLICAS: '3',
    OUTBOX_STREAM_STORAGE: 'file',
    OUTBOX_STREAM_MAX_AGE_MS: '86400000',
    OUTBOX_STREAM_MAX_BYTES: '1073741824',
    OUTBOX_STREAM_MAX_MSGS: '0',
    OUTBOX_STREAM_DISCARD: 'new',
    NATS_TLS_CA_FILE: '/var/run/secrets/nats-tls/ca.crt',
    NATS_TLS_CERT_FILE: '/var/run/secrets/nats-tls/tls.crt',
    NATS_TLS_KEY_FILE: '/var/run/secrets/nats-tls/tls.key',
  });
  // Absent limits stay unset: the server's defaults, never compared with an existing stream.
  expect(Object.keys(plainEnv(makeRelay())).filter((name) => name.startsWith('OUTBOX_STREAM_'))).toEqual(['OUTBOX_STREAM_MANAGEMENT']);
});

test('the relay accepts the environment the operator gives it, with the same meaning', () => {
  const env = parseEnv(relayEnvSchema, { ...plainEnv(), DATABASE_URL: 'postgres://u@db/app' });
  expect(relaySettingsFromEnv(env)).toMatchObject({
    streamManagement: 'verify',
    streamLimits: { replicas: 3, storage: 'file', maxAgeMs: 86_400_000, maxBytes: 1_073_741_824, maxMsgs: 0, discard: 'new' },
  });
});

test('mounts the TLS Secret read-only with only the keys named, and keeps the exit reason as termination message', () => {
  const { pod, container } = podOf();
  expect(pod.volumes).toContainEqual({
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
  expect(container.volumeMounts).toContainEqual({ name: 'nats-tls', mountPath: '/var/run/secrets/nats-tls', readOnly: true });
  expect(container.terminationMessagePolicy).toBe('FallbackToLogsOnError');
});

test('refuses what the relay would refuse, naming the field', () => {
  const issues = (nats: Record<string, unknown>) => {
    const spec = withDefaults({ ...platformOwned.spec, nats: { ...platformOwned.spec.nats, ...nats } });
    return validateRelay(platformOwned, spec).map((i) => `${i.field}: ${i.message}`);
  };
  expect(issues({})).toEqual([]);
  expect(issues({ streamManagement: 'own' })).toEqual(['spec.nats.streamManagement: must be one of create, verify']);
  expect(issues({ streamLimits: { replicas: 7, storage: 'disk', discard: 'oldest' } })).toEqual([
    'spec.nats.streamLimits.storage: must be one of file, memory',
    'spec.nats.streamLimits.discard: must be one of old, new',
    'spec.nats.streamLimits.replicas: must be an integer from 1 to 5',
  ]);
  expect(issues({ streamLimits: { maxAgeSeconds: 60 } })).toEqual([
    'spec.nats.streamLimits.maxAgeSeconds: must be 0 (no limit) or at least nats.duplicateWindowSeconds (120)',
  ]);
  expect(issues({ tls: { secretName: 'nats-client-tls', certKey: 'tls.crt' } })).toEqual([
    'spec.nats.tls.keyKey: certKey and keyKey go together: a client certificate needs its key',
  ]);
  expect(issues({ tls: { secretName: 'nats-client-tls' } })).toEqual(['spec.nats.tls: names no key: set caKey, or certKey and keyKey']);
});
