import { z } from 'zod';
import { natsConnectionFromEnv, relayEnvShape, type NatsConnectionSettings, streamLimitsFromEnv, type StreamOwnership } from '@outbox-relay/outbox';
import { envVar, parseEnv } from '@outbox-relay/runtime';
import { tracingEnvShape, tracingSettingsFromEnv, type TracingSettings } from '@outbox-relay/telemetry';

/** Environment of the subscriber process, validated once at start (README's configuration table). */
export const subscriberEnvShape = {
  NATS_URL: relayEnvShape.NATS_URL,
  OUTBOX_STREAM: relayEnvShape.OUTBOX_STREAM,
  OUTBOX_SUBJECT_PREFIX: relayEnvShape.OUTBOX_SUBJECT_PREFIX,
  /** Used only when the subscriber has to create the stream itself (it starts before any relay). */
  OUTBOX_DUPLICATE_WINDOW_MS: relayEnvShape.OUTBOX_DUPLICATE_WINDOW_MS,
  NATS_CREDS_FILE: relayEnvShape.NATS_CREDS_FILE,
  NATS_TLS_CA_FILE: relayEnvShape.NATS_TLS_CA_FILE,
  NATS_TLS_CERT_FILE: relayEnvShape.NATS_TLS_CERT_FILE,
  NATS_TLS_KEY_FILE: relayEnvShape.NATS_TLS_KEY_FILE,
  OUTBOX_STREAM_MANAGEMENT: relayEnvShape.OUTBOX_STREAM_MANAGEMENT,
  OUTBOX_STREAM_REPLICAS: relayEnvShape.OUTBOX_STREAM_REPLICAS,
  OUTBOX_STREAM_STORAGE: relayEnvShape.OUTBOX_STREAM_STORAGE,
  OUTBOX_STREAM_MAX_AGE_MS: relayEnvShape.OUTBOX_STREAM_MAX_AGE_MS,
  OUTBOX_STREAM_MAX_BYTES: relayEnvShape.OUTBOX_STREAM_MAX_BYTES,
  OUTBOX_STREAM_MAX_MSGS: relayEnvShape.OUTBOX_STREAM_MAX_MSGS,
  OUTBOX_STREAM_DISCARD: relayEnvShape.OUTBOX_STREAM_DISCARD,
  SUBSCRIBER_ID: z
    .string({ error: 'is required (letters, digits, "_" and "-")' })
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"'),
  /** Subject filter of the durable consumer; defaults to `<OUTBOX_SUBJECT_PREFIX>.>` (every event). */
  SUBSCRIBER_FILTER: z
    .string()
    .regex(/^[A-Za-z0-9_*>-]+(\.[A-Za-z0-9_*>-]+)*$/, 'must be a NATS subject (wildcards * and > allowed)')
    .optional(),
  /** Delay before a message whose handler failed is redelivered. */
  SUBSCRIBER_NAK_DELAY_MS: z.coerce.number().int().min(0).max(3_600_000).default(1000),
  /** Unacknowledged messages the server lets this subscriber hold at once. */
  SUBSCRIBER_MAX_ACK_PENDING: z.coerce.number().int().min(1).max(100_000).default(1000),
  /** When set, `GET /healthz`, `/readyz` and `/metrics` are served on this port. */
  SUBSCRIBER_HTTP_PORT: envVar.port().optional(),
  LOG_LEVEL: envVar.logLevel(),
  ...tracingEnvShape,
};

export const subscriberEnvSchema = z.object(subscriberEnvShape);

export interface SubscriberConfig {
  natsUrl: string;
  /** NATS_URL with the credentials and TLS files. */
  nats: NatsConnectionSettings;
  /** Who owns the stream; a subscriber publishes nothing, so it leaves the window check to the relays. */
  streamOwnership: StreamOwnership;
  stream: string;
  subjectPrefix: string;
  duplicateWindowMs: number;
  subscriberId: string;
  filterSubject: string;
  nakDelayMs: number;
  maxAckPending: number;
  httpPort: number | undefined;
  logLevel: string;
  tracing: TracingSettings;
}

/** Reads and validates the environment; throws ConfigError naming every bad variable. */
export function loadSubscriberConfig(env: Record<string, string | undefined>): SubscriberConfig {
  const e = parseEnv(subscriberEnvSchema, env);
  return {
    natsUrl: e.NATS_URL,
    nats: natsConnectionFromEnv(e),
    streamOwnership: {
      management: e.OUTBOX_STREAM_MANAGEMENT,
      minDuplicateWindowMs: 0,
      limits: streamLimitsFromEnv(e),
    },
    stream: e.OUTBOX_STREAM,
    subjectPrefix: e.OUTBOX_SUBJECT_PREFIX,
    duplicateWindowMs: e.OUTBOX_DUPLICATE_WINDOW_MS,
    subscriberId: e.SUBSCRIBER_ID,
    filterSubject: e.SUBSCRIBER_FILTER ?? `${e.OUTBOX_SUBJECT_PREFIX}.>`,
    nakDelayMs: e.SUBSCRIBER_NAK_DELAY_MS,
    maxAckPending: e.SUBSCRIBER_MAX_ACK_PENDING,
    httpPort: e.SUBSCRIBER_HTTP_PORT,
    logLevel: e.LOG_LEVEL,
    tracing: tracingSettingsFromEnv(e, 'subscriber'),
  };
}
