import { z } from 'zod';
import { checkRelayTimings, outboxEnvShape, relayEnvShape, streamOwnershipFromEnv } from '@outbox-relay/outbox';
import { envVar } from '@outbox-relay/runtime';
import { telemetryEnvShape } from '@outbox-relay/telemetry';
import type { PaymentWorkerSettings } from './worker/payment-worker';

const flag = envVar.flag;
const sqlIdentifier = envVar.sqlIdentifier();
const ms = envVar.millis;

/** Variables of the payment worker on top of the outbox's and the embedded relay's (see the package README). */
export const paymentsEnvShape = {
  ...outboxEnvShape,
  ...relayEnvShape,
  ...telemetryEnvShape,
  INBOX_SCHEMA: sqlIdentifier.default('inbox'),
  PAYMENTS_SCHEMA: sqlIdentifier.default('payments'),
  /** Durable JetStream consumer name, also the inbox's consumer key. */
  PAYMENTS_CONSUMER: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"').default('payments'),
  /** Retries after the first attempt before the event is dead-lettered (attempts = retries + 1). */
  PAYMENTS_MAX_RETRIES: z.coerce.number().int().min(0).max(100).default(3),
  /** Redelivery delay after the n-th failure: min(MAX, MIN * 2^(n-1)). */
  PAYMENTS_BACKOFF_MIN_MS: ms(1000, 0, 3_600_000),
  PAYMENTS_BACKOFF_MAX_MS: ms(30_000, 0, 3_600_000),
  /** How long JetStream waits for an ack before redelivering (a crashed worker's event comes back after it). */
  PAYMENTS_ACK_WAIT_MS: ms(30_000, 1000, 3_600_000),
  PAYMENTS_MAX_ACK_PENDING: z.coerce.number().int().min(1).max(100_000).default(1000),
  /** Events processed in parallel (different orders only; one order's events stay in order). */
  PAYMENTS_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
  PAYMENTS_RELAY_ENABLED: flag(true),
  /** `/healthz`, `/readyz`, `/metrics` (Prometheus) and, with the fake gateway, `/admin/fake-gateway`. Off when unset. */
  PAYMENTS_HTTP_PORT: envVar.port().optional(),
  /** Period of the `payments metrics` log line; 0 turns it off. */
  PAYMENTS_METRICS_INTERVAL_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  PAYMENTS_DB_POOL_MAX: z.coerce.number().int().min(2).max(500).default(10),
  SHUTDOWN_TIMEOUT_MS: ms(10_000, 0, 600_000),
  /** Only the deterministic fake exists so far; a real provider's adapter would add its own value. */
  PAYMENTS_GATEWAY: z.enum(['fake']).default('fake'),
  /** Probability (0-1) that a charge succeeds; deterministic per (order, attempt). */
  FAKE_GATEWAY_SUCCESS_RATE: z.coerce.number().min(0).max(1).default(1),
  /** Time each charge takes. */
  FAKE_GATEWAY_LATENCY_MS: ms(20, 0, 600_000),
  /** Start with every charge failing (the forced-failure switch; also on `PUT /admin/fake-gateway`). */
  FAKE_GATEWAY_FAILING: flag(false),
  /** Inbox rows older than this are deleted; must stay far above the stream's duplicate window. */
  INBOX_RETENTION_MS: ms(7 * 86_400_000, 60_000, 365 * 86_400_000),
  /** Resolved consumer dead letters older than this are deleted (open ones never are). */
  INBOX_DEAD_LETTER_RETENTION_MS: ms(30 * 86_400_000, 60_000, 3650 * 86_400_000),
  INBOX_RETENTION_INTERVAL_MS: ms(60_000, 100, 86_400_000),
};

export const paymentsEnvSchema = z
  .object(paymentsEnvShape)
  .superRefine(checkRelayTimings)
  .superRefine((env, ctx) => {
    // A re-publish (a relay's successor, a replay) of an event can arrive until the duplicate window has passed;
    // its inbox row must still be there then, with a wide margin.
    if (env.INBOX_RETENTION_MS < 10 * env.OUTBOX_DUPLICATE_WINDOW_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['INBOX_RETENTION_MS'],
        message: `must be at least 10 x OUTBOX_DUPLICATE_WINDOW_MS (${10 * env.OUTBOX_DUPLICATE_WINDOW_MS}) so a late duplicate still finds its inbox row`,
      });
    }
    if (env.PAYMENTS_BACKOFF_MIN_MS > env.PAYMENTS_BACKOFF_MAX_MS) {
      ctx.addIssue({ code: 'custom', path: ['PAYMENTS_BACKOFF_MIN_MS'], message: 'must not exceed PAYMENTS_BACKOFF_MAX_MS' });
    }
    // Each event in flight holds its inbox transaction while the payment-started transaction and the fake gateway's
    // ledger take other connections; fewer would let a burst wait forever on the pool.
    const needed = 3 * env.PAYMENTS_CONCURRENCY + 1;
    if (env.PAYMENTS_DB_POOL_MAX < needed) {
      ctx.addIssue({ code: 'custom', path: ['PAYMENTS_DB_POOL_MAX'], message: `must be at least 3 x PAYMENTS_CONCURRENCY + 1 (${needed})` });
    }
    // A charge still in flight when ack_wait ends would be delivered a second time meanwhile (harmless thanks to
    // the inbox, but it ties up a connection waiting on the first delivery's inbox row).
    if (env.PAYMENTS_GATEWAY === 'fake' && env.FAKE_GATEWAY_LATENCY_MS >= env.PAYMENTS_ACK_WAIT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['FAKE_GATEWAY_LATENCY_MS'],
        message: `must be below PAYMENTS_ACK_WAIT_MS (${env.PAYMENTS_ACK_WAIT_MS}), or JetStream redelivers charges still in flight`,
      });
    }
  });

export type PaymentsConfig = z.output<typeof paymentsEnvSchema>;

/** The worker's settings in library form, from the validated environment (tests parse a partial one: the defaults hold). */
export function paymentWorkerSettings(config: PaymentsConfig): PaymentWorkerSettings {
  return {
    inboxSchema: config.INBOX_SCHEMA,
    paymentsSchema: config.PAYMENTS_SCHEMA,
    outboxSchema: config.OUTBOX_SCHEMA,
    maxPayloadBytes: config.OUTBOX_MAX_PAYLOAD_BYTES,
    stream: config.OUTBOX_STREAM,
    subjectPrefix: config.OUTBOX_SUBJECT_PREFIX,
    duplicateWindowMs: config.OUTBOX_DUPLICATE_WINDOW_MS,
    streamOwnership: streamOwnershipFromEnv(config),
    consumerName: config.PAYMENTS_CONSUMER,
    maxRetries: config.PAYMENTS_MAX_RETRIES,
    backoff: { minMs: config.PAYMENTS_BACKOFF_MIN_MS, maxMs: config.PAYMENTS_BACKOFF_MAX_MS },
    ackWaitMs: config.PAYMENTS_ACK_WAIT_MS,
    maxAckPending: config.PAYMENTS_MAX_ACK_PENDING,
    concurrency: config.PAYMENTS_CONCURRENCY,
    inboxRetention: {
      processedMs: config.INBOX_RETENTION_MS,
      deadLetterMs: config.INBOX_DEAD_LETTER_RETENTION_MS,
      intervalMs: config.INBOX_RETENTION_INTERVAL_MS,
    },
  };
}
