import { LOG_LEVELS } from '@outbox-relay/runtime';
import {
  IMAGE_PULL_POLICIES,
  NATS_MESSAGE_HEADERS,
  NATS_STREAM_DISCARD,
  NATS_STREAM_MANAGEMENT,
  NATS_STREAM_STORAGE,
  SPEC_DEFAULTS,
  SPEC_PATTERNS,
  SPEC_RANGES,
  STREAM_LIMIT_RANGES,
  type Range,
} from './limits';
import { SPEC_RULES } from './rules';
import { networkPolicySchema } from './schema-network-policy';
import { quantitySchema, templateSchema } from './schema-pod';
import type { JsonSchema } from './schema-types';

/** An integer in its range; `fallback` undefined: no default (absent means something of its own). */
const int = (range: Range, fallback: number | undefined, description: string): JsonSchema => ({
  type: 'integer',
  description,
  minimum: range.minimum,
  maximum: range.maximum,
  ...(fallback === undefined ? {} : { default: fallback }),
});

const str = (description: string, extra: JsonSchema = {}): JsonSchema => ({ type: 'string', description, ...extra });

const secretKeyRef = (description: string): JsonSchema => ({
  type: 'object',
  description,
  required: ['name', 'key'],
  properties: {
    name: str('Name of a Secret in the OutboxRelay\'s namespace.', { pattern: SPEC_PATTERNS.secretName, maxLength: 253 }),
    key: str('Key within the Secret.', { pattern: SPEC_PATTERNS.secretKey, maxLength: 253 }),
  },
});

const quantity = quantitySchema;

/** An optional integer: absent means the server's default, so no default here. */
const optionalInt = (range: Range, description: string): JsonSchema => ({ type: 'integer', description, minimum: range.minimum, maximum: range.maximum });

const secretKey = (description: string): JsonSchema => str(description, { pattern: SPEC_PATTERNS.secretKey, maxLength: 253 });

const l = STREAM_LIMIT_RANGES;
const streamLimits: JsonSchema = {
  type: 'object',
  description: 'Limits of a stream the relay creates (streamManagement create). Absent: the server\'s default. Never applied to an existing stream; differences are logged.',
  properties: {
    replicas: optionalInt(l.replicas, 'Stream replicas (OUTBOX_STREAM_REPLICAS); 3 on a JetStream cluster.'),
    storage: str('file or memory (OUTBOX_STREAM_STORAGE).', { enum: NATS_STREAM_STORAGE }),
    maxAgeSeconds: optionalInt(l.maxAgeSeconds, 'Oldest message kept, 0 = no limit; at least duplicateWindowSeconds (OUTBOX_STREAM_MAX_AGE_MS).'),
    maxBytes: optionalInt(l.maxBytes, 'Stream size limit in bytes, 0 = no limit (OUTBOX_STREAM_MAX_BYTES).'),
    maxMessages: optionalInt(l.maxMessages, 'Message count limit, 0 = no limit (OUTBOX_STREAM_MAX_MSGS).'),
    discard: str('When full: old (drop the oldest) or new (refuse new messages) (OUTBOX_STREAM_DISCARD).', { enum: NATS_STREAM_DISCARD }),
  },
};

const tls: JsonSchema = {
  type: 'object',
  description: 'TLS to NATS from one Secret in the namespace, mounted read-only: the servers\' CA and/or a client certificate and key.',
  required: ['secretName'],
  properties: {
    secretName: str('Name of the Secret.', { pattern: SPEC_PATTERNS.secretName, maxLength: 253 }),
    caKey: secretKey('Key holding the CA certificate (NATS_TLS_CA_FILE), e.g. ca.crt.'),
    certKey: secretKey('Key holding the client certificate (NATS_TLS_CERT_FILE), e.g. tls.crt.'),
    keyKey: secretKey('Key holding the client key (NATS_TLS_KEY_FILE), e.g. tls.key.'),
  },
  // certKey without keyKey (or the reverse) is refused by the reconcile (validate-stream.ts) and the relay.
};

const d = SPEC_DEFAULTS;
const r = SPEC_RANGES;

export const specSchema: JsonSchema = {
  type: 'object',
  description: 'Desired state of a relay deployment.',
  required: ['database', 'nats'],
  properties: {
    replicas: int(r.replicas, d.replicas, 'Relay pods. One leads each partition; the others wait to take over.'),
    // No default here: a CRD default is written into every object at admission and would pin it to the image of the
    // operator version that admitted it. Unset, the operator fills in its own RELAY_IMAGE at each reconcile.
    image: str('Relay container image. Unset: the operator\'s default relay image (RELAY_IMAGE), which moves with operator upgrades.', { minLength: 1 }),
    imagePullPolicy: str('Image pull policy of the relay container.', { enum: IMAGE_PULL_POLICIES }),
    database: {
      type: 'object',
      description: 'The Postgres database holding the outbox.',
      required: ['secretRef'],
      properties: {
        secretRef: secretKeyRef('Secret key holding the postgres:// connection URL.'),
        schema: str('Schema of the outbox tables.', { default: d.databaseSchema, pattern: SPEC_PATTERNS.databaseSchema }),
        confirmingStandbys: int(
          r.databaseConfirmingStandbys,
          d.databaseConfirmingStandbys,
          'Standbys that must have flushed an event\'s commit before it is published, so that no Postgres failover takes back a published event; with fewer standbys connected nothing is published. The relay\'s role needs pg_monitor. 0: publish once committed.',
        ),
      },
    },
    nats: {
      type: 'object',
      description: 'The NATS JetStream stream the relay publishes to.',
      required: ['url'],
      properties: {
        url: str('NATS server URL, e.g. nats://nats.nats.svc:4222.', { pattern: SPEC_PATTERNS.natsUrl, maxLength: 2048 }),
        credentialsSecretRef: secretKeyRef('Secret key holding a NATS .creds file, mounted read-only into the pods.'),
        stream: str('JetStream stream name.', { default: d.natsStream, pattern: SPEC_PATTERNS.natsStream, maxLength: 255 }),
        subjectPrefix: str('Subjects are <prefix>.<aggregateType>.<eventType>.', {
          default: d.natsSubjectPrefix,
          pattern: SPEC_PATTERNS.natsSubjectPrefix,
          maxLength: 255,
        }),
        duplicateWindowSeconds: int(
          r.duplicateWindowSeconds,
          d.duplicateWindowSeconds,
          'JetStream duplicate window; at least 10 x leaseDurationMs so re-publishes after a failover are dropped.',
        ),
        messageHeaders: str(
          'Headers of each message: outbox (Outbox-*), cloudevents (CloudEvents binary mode, ce-*) or both.',
          { enum: NATS_MESSAGE_HEADERS, default: d.natsMessageHeaders },
        ),
        cloudEventsSource: str('CloudEvents source of every event, a URI-reference; default /outbox-relay/<database.schema>.', {
          pattern: SPEC_PATTERNS.cloudEventsSource,
          maxLength: 2048,
        }),
        streamManagement: str(
          'create: the relay creates its stream when missing; verify: a platform team declares it (NACK, nats CLI) and the relay only checks that it exists, covers <subjectPrefix>.> and keeps a duplicate window of at least 10 x leaseDurationMs, exiting with status 2 otherwise.',
          { enum: NATS_STREAM_MANAGEMENT, default: d.natsStreamManagement },
        ),
        streamLimits,
        tls,
      },
    },
    partitionCount: int(
      r.partitionCount,
      undefined,
      'Outbox partitions, each with its own lease; 1 means one global order. When set, the operator keeps the schema at this count: a change runs a Job (outbox-migrate) that waits for the relays to publish every pending event while writers pause, then switches (condition PartitionCountApplied). Unset: the schema\'s count, set by the application\'s migrations, is kept.',
    ),
    batchSize: int(r.batchSize, d.batchSize, 'Events read per batch.'),
    batchMaxBytes: int(
      r.batchMaxBytes,
      d.batchMaxBytes,
      'Bytes of event payloads and headers one read may return (at least one event is always read, whatever its size), so what a relay holds in memory does not grow with the size of the events.',
    ),
    publishWindow: int(
      r.publishWindow,
      d.publishWindow,
      'Messages a relay keeps sent and unacknowledged, at most, over all its partitions. More adds no throughput on a fast network and makes a partition taken over wait behind the others in the stream.',
    ),
    leaseDurationMs: int(r.leaseDurationMs, d.leaseDurationMs, 'Leader lease duration, judged by the database clock.'),
    renewIntervalMs: int(r.renewIntervalMs, d.renewIntervalMs, 'Lease renewal interval; at most half the lease.'),
    failoverDelaySeconds: int(
      r.failoverDelaySeconds,
      d.failoverDelaySeconds,
      'How long a leader may make no progress (events waiting, nothing published, as it reports itself) before the operator evicts its pod; also the quiet period between two evictions. At least 5 s either way.',
    ),
    resources: {
      type: 'object',
      description: 'Compute resources of the relay container (defaults apply when absent).',
      properties: {
        requests: { type: 'object', additionalProperties: quantity },
        limits: { type: 'object', additionalProperties: quantity },
      },
    },
    networkPolicy: networkPolicySchema,
    template: templateSchema,
    paused: {
      type: 'boolean',
      description: 'When true the operator changes nothing (no applies, no failovers) but still reports status.',
      default: d.paused,
    },
    logLevel: str('Relay log level.', { enum: LOG_LEVELS, default: d.logLevel }),
  },
  'x-kubernetes-validations': SPEC_RULES.map((rule) => ({
    rule: rule.cel,
    message: rule.message,
    fieldPath: `.${rule.field}`,
    reason: 'FieldValueInvalid' as const,
  })),
};
