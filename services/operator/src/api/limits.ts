/**
 * Defaults and ranges of the spec. The CRD schema and the reconcile's own validation both read these, so a
 * resource the API server accepts is one the operator accepts (and the relay, whose start-up checks they mirror).
 */
import { SQL_IDENTIFIER } from '@outbox-relay/runtime';

/** The operator's RELAY_IMAGE when unset (the charts and deploy/operator.yaml set it to the operator's own image). */
export const DEFAULT_IMAGE = 'ghcr.io/outbox-relay/outbox-relay:0.1.0';

export const SPEC_DEFAULTS = {
  // Two replicas: one leads, one waits with a warm connection, so a failover never waits for a pod to schedule.
  replicas: 2,
  databaseSchema: 'outbox',
  databaseConfirmingStandbys: 0,
  natsStream: 'OUTBOX',
  natsSubjectPrefix: 'outbox',
  duplicateWindowSeconds: 120,
  natsMessageHeaders: 'outbox',
  natsStreamManagement: 'create',
  batchSize: 1000,
  // The relay's DEFAULT_PUBLISH_WINDOW: messages a relay keeps unacknowledged over all its partitions.
  publishWindow: 500,
  // The relay's DEFAULT_BATCH_MAX_BYTES: payloads and headers one read may return (4 MiB).
  batchMaxBytes: 4 * 1024 * 1024,
  leaseDurationMs: 2000,
  renewIntervalMs: 500,
  failoverDelaySeconds: 15,
  paused: false,
  logLevel: 'info',
} as const;

export interface Range {
  minimum: number;
  maximum: number;
}

export const SPEC_RANGES = {
  replicas: { minimum: 0, maximum: 100 },
  partitionCount: { minimum: 1, maximum: 1024 },
  batchSize: { minimum: 1, maximum: 10_000 },
  publishWindow: { minimum: 1, maximum: 100_000 },
  batchMaxBytes: { minimum: 1024, maximum: 1024 ** 3 },
  databaseConfirmingStandbys: { minimum: 0, maximum: 16 },
  // The relay refuses leases under 200 ms and renewals under 50 ms (services/outbox config).
  leaseDurationMs: { minimum: 200, maximum: 600_000 },
  renewIntervalMs: { minimum: 50, maximum: 300_000 },
  duplicateWindowSeconds: { minimum: 1, maximum: 86_400 },
  failoverDelaySeconds: { minimum: 0, maximum: 3600 },
} satisfies Record<string, Range>;

export const IMAGE_PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;

/** The relay's OUTBOX_MESSAGE_HEADERS values (services/outbox/src/config.ts, MESSAGE_HEADER_MODES). */
export const NATS_MESSAGE_HEADERS = ['outbox', 'cloudevents', 'both'] as const;
export type NatsMessageHeaders = (typeof NATS_MESSAGE_HEADERS)[number];

/** The relay's OUTBOX_STREAM_MANAGEMENT, OUTBOX_STREAM_STORAGE and OUTBOX_STREAM_DISCARD values (STREAM_*). */
export const NATS_STREAM_MANAGEMENT = ['create', 'verify'] as const;
export type NatsStreamManagement = (typeof NATS_STREAM_MANAGEMENT)[number];
export const NATS_STREAM_STORAGE = ['file', 'memory'] as const;
export type NatsStreamStorage = (typeof NATS_STREAM_STORAGE)[number];
export const NATS_STREAM_DISCARD = ['old', 'new'] as const;
export type NatsStreamDiscard = (typeof NATS_STREAM_DISCARD)[number];

/** Ranges of nats.streamLimits (the relay's OUTBOX_STREAM_REPLICAS is 1 to 5; the others 0 = no limit). */
export const STREAM_LIMIT_RANGES = {
  replicas: { minimum: 1, maximum: 5 },
  maxAgeSeconds: { minimum: 0, maximum: 100 * 365 * 86_400 },
  maxBytes: { minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
  maxMessages: { minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
} satisfies Record<string, Range>;

/** Patterns the relay applies to the same values at start-up (services/outbox/src/config.ts). */
export const SPEC_PATTERNS = {
  databaseSchema: SQL_IDENTIFIER.source,
  natsStream: '^[A-Za-z0-9_-]+$',
  natsSubjectPrefix: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$',
  natsUrl: '^(nats|tls|ws|wss)://.+',
  // OUTBOX_CLOUDEVENTS_SOURCE: a URI-reference of printable ASCII, '%' only in %XX escapes.
  cloudEventsSource: "^(?:[A-Za-z0-9\\-._~:/?#[\\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$",
  // A DNS subdomain (Secret names) and a Secret data key.
  secretName: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  secretKey: '^[-._a-zA-Z0-9]+$',
} as const;
