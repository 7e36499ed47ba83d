/** The stream and NATS TLS variables: read into settings, and each bad one named in plain words. */
import { relayEnvSchema, relaySettingsFromEnv, streamOwnershipFromEnv, defaultRelaySettings } from '@outbox-relay/outbox';
import { ConfigError, parseEnv } from '@outbox-relay/runtime';

const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

function issuesOf(env: Record<string, string>): string[] {
  try {
    parseEnv(relayEnvSchema, { DATABASE_URL, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => `${i.path}: ${i.message}`);
    throw error;
  }
  return [];
}

it('defaults to create mode with the server\'s limits', () => {
  const env = parseEnv(relayEnvSchema, { DATABASE_URL });
  expect(relaySettingsFromEnv(env)).toMatchObject({ streamManagement: 'create', streamLimits: {} });
  expect(streamOwnershipFromEnv(env)).toEqual({ management: 'create', limits: {}, minDuplicateWindowMs: 20_000 });
});

it('reads every stream setting', () => {
  const env = parseEnv(relayEnvSchema, {
    DATABASE_URL,
    OUTBOX_STREAM_MANAGEMENT: 'verify',
    OUTBOX_STREAM_REPLICAS: '3',
    OUTBOX_STREAM_STORAGE: 'memory',
    OUTBOX_STREAM_MAX_AGE_MS: '86400000',
    OUTBOX_STREAM_MAX_BYTES: '1073741824',
    OUTBOX_STREAM_MAX_MSGS: '0',
    OUTBOX_STREAM_DISCARD: 'new',
  });
  expect(relaySettingsFromEnv(env)).toMatchObject({
    streamManagement: 'verify',
    streamLimits: { replicas: 3, storage: 'memory', maxAgeMs: 86_400_000, maxBytes: 1_073_741_824, maxMsgs: 0, discard: 'new' },
  });
});

it('names each bad stream variable', () => {
  expect(
    issuesOf({
      OUTBOX_STREAM_MANAGEMENT: 'own',
      OUTBOX_STREAM_REPLICAS: '7',
      OUTBOX_STREAM_STORAGE: 'disk',
      OUTBOX_STREAM_MAX_BYTES: '-1',
      OUTBOX_STREAM_MAX_MSGS: 'lots',
      OUTBOX_STREAM_DISCARD: 'oldest',
    }).map((issue) => issue.split(':')[0]),
  ).toEqual([
    'OUTBOX_STREAM_MANAGEMENT',
    'OUTBOX_STREAM_REPLICAS',
    'OUTBOX_STREAM_STORAGE',
    'OUTBOX_STREAM_MAX_BYTES',
    'OUTBOX_STREAM_MAX_MSGS',
    'OUTBOX_STREAM_DISCARD',
  ]);
});

it('refuses a max age shorter than the duplicate window, which NATS would refuse', () => {
  expect(issuesOf({ OUTBOX_STREAM_MAX_AGE_MS: '60000' })).toEqual([
    'OUTBOX_STREAM_MAX_AGE_MS: must be 0 (no limit) or at least OUTBOX_DUPLICATE_WINDOW_MS (120000): NATS refuses a duplicate window longer than max age',
  ]);
  expect(issuesOf({ OUTBOX_STREAM_MAX_AGE_MS: '0' })).toEqual([]);
  expect(() => defaultRelaySettings({ streamLimits: { maxAgeMs: 60_000 } })).toThrow('streamLimits.maxAgeMs');
});

it('wants a client certificate and its key together', () => {
  expect(issuesOf({ NATS_TLS_CERT_FILE: '/etc/nats-tls/tls.crt' })).toEqual([
    'NATS_TLS_KEY_FILE: is required when NATS_TLS_CERT_FILE is set (a client certificate needs its key)',
  ]);
  expect(issuesOf({ NATS_TLS_CA_FILE: '/etc/nats-tls/ca.crt', NATS_TLS_CERT_FILE: '/a', NATS_TLS_KEY_FILE: '/b' })).toEqual([]);
});
