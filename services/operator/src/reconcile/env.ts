import type { V1EnvVar } from '../api/k8s-types';
import type { OutboxRelaySpec } from '../api/types';

export const RELAY_HTTP_PORT = 8090;
export const NATS_CREDS_DIR = '/var/run/secrets/nats';
export const NATS_TLS_DIR = '/var/run/secrets/nats-tls';
/** Where the relay pods find the token of POST /step-down: the admin Secret's `token` key (admin-token.ts). */
export const ADMIN_TOKEN_DIR = '/var/run/secrets/outbox-relay-admin';
export const ADMIN_TOKEN_KEY = 'token';

/**
 * Every variable the operator may set, whether or not a given spec sets it: a spec's own env may name none of them
 * (validate-template.ts), so what the operator passes is never overridden, and a variable the operator starts setting
 * later cannot collide with one a user added. test/reconcile/relay-template.test.ts checks relayEnv against it.
 */
export const OPERATOR_ENV_NAMES: readonly string[] = [
  'DATABASE_URL',
  'OUTBOX_SCHEMA',
  'OUTBOX_CONFIRMING_STANDBYS',
  'NATS_URL',
  'NATS_CREDS_FILE',
  'NATS_TLS_CA_FILE',
  'NATS_TLS_CERT_FILE',
  'NATS_TLS_KEY_FILE',
  'OUTBOX_STREAM',
  'OUTBOX_SUBJECT_PREFIX',
  'OUTBOX_DUPLICATE_WINDOW_MS',
  'OUTBOX_MESSAGE_HEADERS',
  'OUTBOX_CLOUDEVENTS_SOURCE',
  'OUTBOX_STREAM_MANAGEMENT',
  'OUTBOX_STREAM_REPLICAS',
  'OUTBOX_STREAM_STORAGE',
  'OUTBOX_STREAM_MAX_AGE_MS',
  'OUTBOX_STREAM_MAX_BYTES',
  'OUTBOX_STREAM_MAX_MSGS',
  'OUTBOX_STREAM_DISCARD',
  'OUTBOX_BATCH_SIZE',
  'OUTBOX_BATCH_MAX_BYTES',
  'OUTBOX_PUBLISH_WINDOW',
  'OUTBOX_LEASE_MS',
  'OUTBOX_RENEW_MS',
  'RELAY_INSTANCE_ID',
  'RELAY_HTTP_PORT',
  'LOG_LEVEL',
  'OUTBOX_ADMIN_TOKEN_FILE',
];

/**
 * What user env may not name: the operator's variables, and the relay settings that would contend with them (the
 * admin token given as a value as well as its file is a configuration error that stops the relay).
 */
export const RESERVED_ENV_NAMES: readonly string[] = [...OPERATOR_ENV_NAMES, 'OUTBOX_ADMIN_TOKEN'];

/**
 * Environment of the relay container, named as the relay reads it (services/relay/src/config.ts). Secrets stay in
 * Secrets: the database URL is a secretKeyRef and the NATS credentials a mounted file, never a literal value.
 */
// No OUTBOX_PARTITIONS: the relays follow the schema's count, which spec.partitionCount changes through a Job
// (partition-job.ts); a relay told another count than the schema's would only log that it differs.
export function relayEnv(spec: OutboxRelaySpec): V1EnvVar[] {
  const { database, nats } = spec;
  const env: V1EnvVar[] = [
    {
      name: 'DATABASE_URL',
      valueFrom: { secretKeyRef: { name: database.secretRef.name, key: database.secretRef.key } },
    },
    { name: 'OUTBOX_SCHEMA', value: database.schema },
    { name: 'OUTBOX_CONFIRMING_STANDBYS', value: String(database.confirmingStandbys) },
    { name: 'NATS_URL', value: nats.url },
  ];
  if (nats.credentialsSecretRef) {
    env.push({ name: 'NATS_CREDS_FILE', value: `${NATS_CREDS_DIR}/${nats.credentialsSecretRef.key}` });
  }
  const tls = nats.tls;
  if (tls?.caKey) env.push({ name: 'NATS_TLS_CA_FILE', value: `${NATS_TLS_DIR}/${tls.caKey}` });
  if (tls?.certKey) env.push({ name: 'NATS_TLS_CERT_FILE', value: `${NATS_TLS_DIR}/${tls.certKey}` });
  if (tls?.keyKey) env.push({ name: 'NATS_TLS_KEY_FILE', value: `${NATS_TLS_DIR}/${tls.keyKey}` });
  // Unset, the relay names its own default (/outbox-relay/<schema>): one default, in one place.
  const source = nats.cloudEventsSource === undefined ? [] : [{ name: 'OUTBOX_CLOUDEVENTS_SOURCE', value: nats.cloudEventsSource }];
  env.push(
    { name: 'OUTBOX_STREAM', value: nats.stream },
    { name: 'OUTBOX_SUBJECT_PREFIX', value: nats.subjectPrefix },
    { name: 'OUTBOX_DUPLICATE_WINDOW_MS', value: String(nats.duplicateWindowSeconds * 1000) },
    { name: 'OUTBOX_MESSAGE_HEADERS', value: nats.messageHeaders },
    ...source,
    { name: 'OUTBOX_STREAM_MANAGEMENT', value: nats.streamManagement },
    ...streamLimitsEnv(spec),
    { name: 'OUTBOX_BATCH_SIZE', value: String(spec.batchSize) },
    { name: 'OUTBOX_BATCH_MAX_BYTES', value: String(spec.batchMaxBytes) },
    { name: 'OUTBOX_PUBLISH_WINDOW', value: String(spec.publishWindow) },
    { name: 'OUTBOX_LEASE_MS', value: String(spec.leaseDurationMs) },
    { name: 'OUTBOX_RENEW_MS', value: String(spec.renewIntervalMs) },
    // The pod name is the lease holder's id, so /status, the lease table and `kubectl get pods` name the same thing.
    { name: 'RELAY_INSTANCE_ID', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
    { name: 'RELAY_HTTP_PORT', value: String(RELAY_HTTP_PORT) },
    { name: 'LOG_LEVEL', value: spec.logLevel },
    // The operator's token for POST /step-down, from the admin Secret mounted by withAdminToken.
    { name: 'OUTBOX_ADMIN_TOKEN_FILE', value: `${ADMIN_TOKEN_DIR}/${ADMIN_TOKEN_KEY}` },
  );
  return env;
}

/** nats.streamLimits as the relay's OUTBOX_STREAM_* variables; an absent limit stays unset (the server's default). */
function streamLimitsEnv(spec: OutboxRelaySpec): V1EnvVar[] {
  const limits = spec.nats.streamLimits ?? {};
  const pairs: Array<[string, string | number | undefined]> = [
    ['OUTBOX_STREAM_REPLICAS', limits.replicas],
    ['OUTBOX_STREAM_STORAGE', limits.storage],
    ['OUTBOX_STREAM_MAX_AGE_MS', limits.maxAgeSeconds === undefined ? undefined : limits.maxAgeSeconds * 1000],
    ['OUTBOX_STREAM_MAX_BYTES', limits.maxBytes],
    ['OUTBOX_STREAM_MAX_MSGS', limits.maxMessages],
    ['OUTBOX_STREAM_DISCARD', limits.discard],
  ];
  return pairs.filter(([, value]) => value !== undefined).map(([name, value]) => ({ name, value: String(value) }));
}
