import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, envVar, toFieldIssues } from '@outbox-relay/runtime';
import { DatabaseUrlError } from './errors';
import type { OutboxRetention } from './maintenance/retention';
import { parseDatabaseTarget } from './postgres/database-target';
import { DEFAULT_BATCH_MAX_BYTES } from './relay/reader';
import type { StreamOwnership } from './publish/ensure-stream';
import {
  STREAM_DISCARD_POLICIES,
  STREAM_MANAGEMENT_MODES,
  STREAM_STORAGE_TYPES,
  type StreamLimits,
  type StreamManagement,
} from './publish/stream-config';

const ms = envVar.millis;

/**
 * Messages a relay keeps sent and unacknowledged by default (OUTBOX_PUBLISH_WINDOW): enough to reach the stream's
 * rate on a local network, few enough that a new term's first message does not queue behind seconds of backlog.
 */
export const DEFAULT_PUBLISH_WINDOW = 500;

/** A unique identity per process: leases are held by instances, and a restarted process is a new holder. */
export function defaultInstanceId(): string {
  return `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * Which headers the relay gives each message (README, "Reading events in any language"): its own `Outbox-*`
 * headers (the default, what this system's consumers were written against), the CloudEvents binary-mode `ce-*`
 * headers of the NATS protocol binding (for readers with a CloudEvents SDK), or both (while consumers move over).
 */
export const MESSAGE_HEADER_MODES = ['outbox', 'cloudevents', 'both'] as const;
export type MessageHeaderMode = (typeof MESSAGE_HEADER_MODES)[number];

/**
 * A CloudEvents `source`: a non-empty URI-reference (RFC 3986) of printable ASCII, so that it travels in a header
 * as it is (its `%` escapes are escaped once more on the way, as the NATS binding asks; readers undo that).
 */
const URI_REFERENCE = /^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$/;
const cloudEventsSource = z
  .string()
  .max(2048)
  .regex(URI_REFERENCE, 'must be a URI-reference (RFC 3986) such as /outbox-relay/orders or https://example.com/orders: printable ASCII, no spaces, "%" only in %XX escapes');

/** The CloudEvents `source` a relay uses when none is configured: names the outbox it publishes. */
export function defaultCloudEventsSource(schema: string): string {
  return `/outbox-relay/${schema}`;
}

/**
 * A postgres:// URL, possibly with libpq's host list and target_session_attrs (postgres/database-target.ts). The
 * message says what is wrong without echoing the URL: it may hold a password.
 */
function databaseUrl() {
  return z.string().superRefine((url, ctx) => {
    try {
      parseDatabaseTarget(url);
    } catch (error) {
      if (!(error instanceof DatabaseUrlError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.problem });
    }
  });
}

/** Environment variables shared by every process that talks to the outbox (see README's table). */
export const outboxEnvShape = {
  DATABASE_URL: databaseUrl(),
  OUTBOX_SCHEMA: envVar.sqlIdentifier().default('outbox'),
  OUTBOX_MIGRATE: envVar.flag(false),
  OUTBOX_PARTITIONS: z.coerce.number().int().min(1).max(1024).optional(),
  OUTBOX_MAX_PAYLOAD_BYTES: z.coerce.number().int().min(1024).max(8 * 1024 * 1024).default(512 * 1024),
  LOG_LEVEL: envVar.logLevel(),
};

/** Variables of the relay (stand-alone, or embedded in a service). */
export const relayEnvShape = {
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  OUTBOX_STREAM: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "_" and "-" only').default('OUTBOX'),
  OUTBOX_SUBJECT_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens without wildcards')
    .default('outbox'),
  OUTBOX_DUPLICATE_WINDOW_MS: ms(120_000, 1000),
  OUTBOX_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(1000),
  /** Bytes of payloads and headers one read may return (at least one event is always read); 1 KiB to 1 GiB. */
  OUTBOX_BATCH_MAX_BYTES: z.coerce.number().int().min(1024).max(1024 ** 3).default(DEFAULT_BATCH_MAX_BYTES),
  OUTBOX_LEASE_MS: ms(2000, 200),
  OUTBOX_RENEW_MS: ms(500, 50),
  OUTBOX_POLL_MS: ms(250, 5),
  OUTBOX_PUBLISH_TIMEOUT_MS: ms(5000, 100),
  OUTBOX_PUBLISH_WINDOW: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_PUBLISH_WINDOW),
  /** Standbys that must have flushed an event's commit before it is published (StandbyFlushGate); 0: off. */
  OUTBOX_CONFIRMING_STANDBYS: z.coerce.number().int().min(0).max(16).default(0),
  OUTBOX_BACKOFF_MIN_MS: ms(100),
  OUTBOX_BACKOFF_MAX_MS: ms(10_000),
  RELAY_INSTANCE_ID: z.string().min(1).max(200).optional(),
  /** Path of a NATS .creds file (JWT + nkey seed); unset = no credentials. */
  NATS_CREDS_FILE: z.string().min(1).optional(),
  /** TLS to NATS: the CA that signed the servers' certificates, and a client certificate and key (mounted Secrets). */
  NATS_TLS_CA_FILE: z.string().min(1).optional(),
  NATS_TLS_CERT_FILE: z.string().min(1).optional(),
  NATS_TLS_KEY_FILE: z.string().min(1).optional(),
  /** `create` (the relay creates and widens its stream) or `verify` (a platform team owns it; only checked). */
  OUTBOX_STREAM_MANAGEMENT: z.enum(STREAM_MANAGEMENT_MODES).default('create'),
  /** Limits of a stream the relay creates; unset = the server's default, and not compared with an existing stream. */
  OUTBOX_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).optional(),
  OUTBOX_STREAM_STORAGE: z.enum(STREAM_STORAGE_TYPES).optional(),
  /** 0 = no limit. */
  OUTBOX_STREAM_MAX_AGE_MS: z.coerce.number().int().min(0).optional(),
  OUTBOX_STREAM_MAX_BYTES: z.coerce.number().int().min(0).optional(),
  OUTBOX_STREAM_MAX_MSGS: z.coerce.number().int().min(0).optional(),
  OUTBOX_STREAM_DISCARD: z.enum(STREAM_DISCARD_POLICIES).optional(),
  OUTBOX_MAX_PUBLISH_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(5),
  OUTBOX_RETENTION_MS: ms(3_600_000),
  OUTBOX_DEAD_LETTER_RETENTION_MS: ms(7 * 24 * 3_600_000),
  OUTBOX_RETENTION_INTERVAL_MS: ms(10_000, 10),
  OUTBOX_RETENTION_BATCH_SIZE: z.coerce.number().int().min(1).max(100_000).default(1000),
  OUTBOX_MESSAGE_HEADERS: z.enum(MESSAGE_HEADER_MODES).default('outbox'),
  /** Unset: `/outbox-relay/<OUTBOX_SCHEMA>` (defaultCloudEventsSource). */
  OUTBOX_CLOUDEVENTS_SOURCE: cloudEventsSource.optional(),
};

export const relayEnvSchema = z
  .object({ ...outboxEnvShape, ...relayEnvShape })
  .superRefine(checkRelayTimings);

type StreamEnv = {
  OUTBOX_DUPLICATE_WINDOW_MS: number;
  OUTBOX_STREAM_MAX_AGE_MS?: number;
  NATS_TLS_CERT_FILE?: string;
  NATS_TLS_KEY_FILE?: string;
};

/**
 * Rules between the stream and connection variables, for every env schema that embeds a relay (called by
 * checkRelayTimings): the server refuses a duplicate window longer than max age, and a client certificate
 * without its key (or the reverse) is a half-done TLS set-up.
 */
function checkStreamEnv(env: StreamEnv, ctx: z.RefinementCtx): void {
  const maxAge = env.OUTBOX_STREAM_MAX_AGE_MS;
  if (maxAge !== undefined && maxAge > 0 && maxAge < env.OUTBOX_DUPLICATE_WINDOW_MS) {
    ctx.addIssue({ code: 'custom', path: ['OUTBOX_STREAM_MAX_AGE_MS'], message: `must be 0 (no limit) or at least OUTBOX_DUPLICATE_WINDOW_MS (${env.OUTBOX_DUPLICATE_WINDOW_MS}): NATS refuses a duplicate window longer than max age` });
  }
  if ((env.NATS_TLS_CERT_FILE === undefined) !== (env.NATS_TLS_KEY_FILE === undefined)) {
    const missing = env.NATS_TLS_CERT_FILE === undefined ? 'NATS_TLS_CERT_FILE' : 'NATS_TLS_KEY_FILE';
    const other = missing === 'NATS_TLS_CERT_FILE' ? 'NATS_TLS_KEY_FILE' : 'NATS_TLS_CERT_FILE';
    ctx.addIssue({ code: 'custom', path: [missing], message: `is required when ${other} is set (a client certificate needs its key)` });
  }
}

/** The settings the timing rules relate, by their names in library form. */
interface RelayTimings {
  leaseMs: number;
  renewMs: number;
  duplicateWindowMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
}

/**
 * Cross-field rules of a relay's timings, one list for every entry point (environment, library settings), each
 * issue naming the setting to change.
 */
export function relayTimingIssues(
  t: RelayTimings,
  nameOf: (field: keyof RelayTimings) => string = (field) => field,
): Array<{ field: keyof RelayTimings; message: string }> {
  const issues: Array<{ field: keyof RelayTimings; message: string }> = [];
  if (t.renewMs * 2 > t.leaseMs) {
    issues.push({ field: 'renewMs', message: `must be at most half of ${nameOf('leaseMs')} (${t.leaseMs}) so a lease survives a missed renewal` });
  }
  // A successor re-publishes a crashed leader's unconfirmed events about one lease later; the stream drops them
  // at once while they are inside the window (later ones are found by the relay's look at the stream).
  if (t.duplicateWindowMs < t.leaseMs * 10) {
    issues.push({ field: 'duplicateWindowMs', message: `must be at least 10 x ${nameOf('leaseMs')} (${t.leaseMs * 10}) so re-publishes are deduplicated` });
  }
  if (t.backoffMinMs > t.backoffMaxMs) issues.push({ field: 'backoffMinMs', message: `must not exceed ${nameOf('backoffMaxMs')} (${t.backoffMaxMs})` });
  return issues;
}

const timingVariables: Record<keyof RelayTimings, string> = {
  leaseMs: 'OUTBOX_LEASE_MS',
  renewMs: 'OUTBOX_RENEW_MS',
  duplicateWindowMs: 'OUTBOX_DUPLICATE_WINDOW_MS',
  backoffMinMs: 'OUTBOX_BACKOFF_MIN_MS',
  backoffMaxMs: 'OUTBOX_BACKOFF_MAX_MS',
};

type RelayTimingEnv = {
  OUTBOX_LEASE_MS: number;
  OUTBOX_RENEW_MS: number;
  OUTBOX_DUPLICATE_WINDOW_MS: number;
  OUTBOX_BACKOFF_MIN_MS: number;
  OUTBOX_BACKOFF_MAX_MS: number;
};

/** `relayTimingIssues` (and the stream and TLS rules) for every env schema that embeds a relay, naming the variables. */
export function checkRelayTimings(env: RelayTimingEnv & StreamEnv, ctx: z.RefinementCtx): void {
  checkStreamEnv(env, ctx);
  const nameOf = (field: keyof RelayTimings) => timingVariables[field];
  const issues = relayTimingIssues(
    {
      leaseMs: env.OUTBOX_LEASE_MS,
      renewMs: env.OUTBOX_RENEW_MS,
      duplicateWindowMs: env.OUTBOX_DUPLICATE_WINDOW_MS,
      backoffMinMs: env.OUTBOX_BACKOFF_MIN_MS,
      backoffMaxMs: env.OUTBOX_BACKOFF_MAX_MS,
    },
    nameOf,
  );
  for (const issue of issues) ctx.addIssue({ code: 'custom', path: [nameOf(issue.field)], message: issue.message });
}

export type RelayEnv = z.output<typeof relayEnvSchema>;

/** Relay settings in library form (milliseconds, camelCase). */
export interface RelaySettings {
  schema: string;
  instanceId: string;
  stream: string;
  subjectPrefix: string;
  duplicateWindowMs: number;
  batchSize: number;
  /**
   * Bytes of payloads and headers one read may return (at least one event, whatever its size), so the memory a
   * relay holds does not grow with the size of the events; default DEFAULT_BATCH_MAX_BYTES (4 MiB).
   */
  batchMaxBytes?: number;
  leaseMs: number;
  renewMs: number;
  pollMs: number;
  publishTimeoutMs: number;
  /**
   * Messages sent and not yet acknowledged, at most, over all partitions of the relay (see SendWindow); default
   * DEFAULT_PUBLISH_WINDOW, so settings built before stay valid.
   */
  publishWindow?: number;
  /**
   * Standbys that must have flushed an event's commit before it is published, so that no failover can make a
   * published event disappear from the database (StandbyFlushGate); 0 or absent: publish once committed.
   */
  confirmingStandbys?: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Tries before an event that fails permanently (e.g. too large for the stream) moves to the dead letters. */
  maxPublishAttempts: number;
  retention: OutboxRetention;
  /** The headers of each message (MESSAGE_HEADER_MODES); `outbox` when absent, so settings built before stay valid. */
  messageHeaders?: MessageHeaderMode;
  /** The CloudEvents `source` of every event (modes `cloudevents` and `both`); default `/outbox-relay/<schema>`. */
  cloudEventsSource?: string;
  /** Who owns the stream (STREAM_MANAGEMENT_MODES); `create` when absent. */
  streamManagement?: StreamManagement;
  /** Limits of a stream the relay creates (absent: the server's defaults). */
  streamLimits?: StreamLimits;
}

/** The stream limits set in the environment (unset ones absent). */
/** The stream-limit variables alone: processes that only consume (the subscriber) read them too. */
export type StreamLimitsEnv = Pick<
  RelayEnv,
  'OUTBOX_STREAM_REPLICAS' | 'OUTBOX_STREAM_STORAGE' | 'OUTBOX_STREAM_MAX_AGE_MS' | 'OUTBOX_STREAM_MAX_BYTES' | 'OUTBOX_STREAM_MAX_MSGS' | 'OUTBOX_STREAM_DISCARD'
>;

export function streamLimitsFromEnv(env: StreamLimitsEnv): StreamLimits {
  const limits: StreamLimits = {
    replicas: env.OUTBOX_STREAM_REPLICAS,
    storage: env.OUTBOX_STREAM_STORAGE,
    maxAgeMs: env.OUTBOX_STREAM_MAX_AGE_MS,
    maxBytes: env.OUTBOX_STREAM_MAX_BYTES,
    maxMsgs: env.OUTBOX_STREAM_MAX_MSGS,
    discard: env.OUTBOX_STREAM_DISCARD,
  };
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) as StreamLimits;
}

/** How every process that ensures the stream reads the stream settings from its environment. */
export function streamOwnershipFromEnv(env: RelayEnv): Required<StreamOwnership> {
  return { management: env.OUTBOX_STREAM_MANAGEMENT, limits: streamLimitsFromEnv(env), minDuplicateWindowMs: env.OUTBOX_LEASE_MS * 10 };
}

export function relaySettingsFromEnv(env: RelayEnv): RelaySettings {
  return {
    schema: env.OUTBOX_SCHEMA,
    instanceId: env.RELAY_INSTANCE_ID ?? defaultInstanceId(),
    stream: env.OUTBOX_STREAM,
    subjectPrefix: env.OUTBOX_SUBJECT_PREFIX,
    duplicateWindowMs: env.OUTBOX_DUPLICATE_WINDOW_MS,
    batchSize: env.OUTBOX_BATCH_SIZE,
    batchMaxBytes: env.OUTBOX_BATCH_MAX_BYTES,
    leaseMs: env.OUTBOX_LEASE_MS,
    renewMs: env.OUTBOX_RENEW_MS,
    pollMs: env.OUTBOX_POLL_MS,
    publishTimeoutMs: env.OUTBOX_PUBLISH_TIMEOUT_MS,
    publishWindow: env.OUTBOX_PUBLISH_WINDOW,
    confirmingStandbys: env.OUTBOX_CONFIRMING_STANDBYS,
    backoffMinMs: env.OUTBOX_BACKOFF_MIN_MS,
    backoffMaxMs: env.OUTBOX_BACKOFF_MAX_MS,
    maxPublishAttempts: env.OUTBOX_MAX_PUBLISH_ATTEMPTS,
    retention: {
      publishedMs: env.OUTBOX_RETENTION_MS,
      deadLetterMs: env.OUTBOX_DEAD_LETTER_RETENTION_MS,
      intervalMs: env.OUTBOX_RETENTION_INTERVAL_MS,
      batchSize: env.OUTBOX_RETENTION_BATCH_SIZE,
    },
    messageHeaders: env.OUTBOX_MESSAGE_HEADERS,
    cloudEventsSource: env.OUTBOX_CLOUDEVENTS_SOURCE,
    streamManagement: env.OUTBOX_STREAM_MANAGEMENT,
    streamLimits: streamLimitsFromEnv(env),
  };
}

/**
 * The same ranges as the environment variables (the zod types are shared, so they cannot drift) and the same
 * cross-field rules, for settings built in code.
 */
const e = relayEnvShape;
const relaySettingsSchema = z
  .object({
    schema: outboxEnvShape.OUTBOX_SCHEMA,
    instanceId: z.string().min(1).max(200),
    stream: e.OUTBOX_STREAM,
    subjectPrefix: e.OUTBOX_SUBJECT_PREFIX,
    duplicateWindowMs: e.OUTBOX_DUPLICATE_WINDOW_MS,
    batchSize: e.OUTBOX_BATCH_SIZE,
    batchMaxBytes: e.OUTBOX_BATCH_MAX_BYTES.optional(),
    leaseMs: e.OUTBOX_LEASE_MS,
    renewMs: e.OUTBOX_RENEW_MS,
    pollMs: e.OUTBOX_POLL_MS,
    publishTimeoutMs: e.OUTBOX_PUBLISH_TIMEOUT_MS,
    publishWindow: e.OUTBOX_PUBLISH_WINDOW.optional(),
    confirmingStandbys: e.OUTBOX_CONFIRMING_STANDBYS.optional(),
    backoffMinMs: e.OUTBOX_BACKOFF_MIN_MS,
    backoffMaxMs: e.OUTBOX_BACKOFF_MAX_MS,
    maxPublishAttempts: e.OUTBOX_MAX_PUBLISH_ATTEMPTS,
    retention: z.object({
      publishedMs: e.OUTBOX_RETENTION_MS,
      deadLetterMs: e.OUTBOX_DEAD_LETTER_RETENTION_MS,
      intervalMs: e.OUTBOX_RETENTION_INTERVAL_MS,
      batchSize: e.OUTBOX_RETENTION_BATCH_SIZE,
    }),
    messageHeaders: e.OUTBOX_MESSAGE_HEADERS,
    cloudEventsSource: e.OUTBOX_CLOUDEVENTS_SOURCE,
    streamManagement: e.OUTBOX_STREAM_MANAGEMENT.optional(),
    streamLimits: z
      .object({
        replicas: e.OUTBOX_STREAM_REPLICAS,
        storage: e.OUTBOX_STREAM_STORAGE,
        maxAgeMs: e.OUTBOX_STREAM_MAX_AGE_MS,
        maxBytes: e.OUTBOX_STREAM_MAX_BYTES,
        maxMsgs: e.OUTBOX_STREAM_MAX_MSGS,
        discard: e.OUTBOX_STREAM_DISCARD,
      })
      .optional(),
  })
  .superRefine((settings, ctx) => {
    for (const issue of relayTimingIssues(settings)) ctx.addIssue({ code: 'custom', path: [issue.field], message: issue.message });
    const maxAge = settings.streamLimits?.maxAgeMs;
    if (maxAge !== undefined && maxAge > 0 && maxAge < settings.duplicateWindowMs) {
      ctx.addIssue({ code: 'custom', path: ['streamLimits', 'maxAgeMs'], message: `must be 0 (no limit) or at least duplicateWindowMs (${settings.duplicateWindowMs})` });
    }
  });

/**
 * Checks relay settings built in code by the rules the environment path applies; throws ConfigError naming every
 * bad setting (e.g. `duplicateWindowMs`). Every relay checks its settings this way when it is constructed.
 */
export function validateRelaySettings(settings: RelaySettings): RelaySettings {
  const result = relaySettingsSchema.safeParse(settings);
  if (!result.success) throw new ConfigError(toFieldIssues(result.error.issues));
  return settings;
}

/** Defaults for library users who build settings in code rather than from the environment; validated. */
export function defaultRelaySettings(overrides: Partial<RelaySettings> = {}): RelaySettings {
  return validateRelaySettings({
    schema: 'outbox',
    instanceId: defaultInstanceId(),
    stream: 'OUTBOX',
    subjectPrefix: 'outbox',
    duplicateWindowMs: 120_000,
    batchSize: 1000,
    leaseMs: 2000,
    renewMs: 500,
    pollMs: 250,
    publishTimeoutMs: 5000,
    backoffMinMs: 100,
    backoffMaxMs: 10_000,
    maxPublishAttempts: 5,
    retention: { publishedMs: 3_600_000, deadLetterMs: 7 * 24 * 3_600_000, intervalMs: 10_000, batchSize: 1000 },
    messageHeaders: 'outbox',
    ...overrides,
  });
}
