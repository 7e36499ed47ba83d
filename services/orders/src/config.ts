import { z } from 'zod';
import { checkRelayTimings, outboxEnvShape, relayEnvShape } from '@outbox-relay/outbox';
import { envVar } from '@outbox-relay/runtime';
import { telemetryEnvShape } from '@outbox-relay/telemetry';

const UNITS = { b: 1, kb: 1024, mb: 1024 * 1024 } as const;

/** "64kb", "1mb", "512" (bytes) → bytes; the same units body-parser understands, as a number. */
const byteSize = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(b|kb|mb)?$/i, 'must be a size such as 64kb, 1mb or 65536')
  .transform((text) => {
    const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb)?$/i.exec(text)!;
    const unit = (match[2]?.toLowerCase() ?? 'b') as keyof typeof UNITS;
    return Math.floor(Number(match[1]) * UNITS[unit]);
  })
  .pipe(z.number().int().min(1024, 'must be at least 1kb').max(16 * 1024 * 1024, 'must be at most 16mb'));

/** Variables of the order service on top of the outbox's and the embedded relay's (see README's table). */
export const ordersEnvShape = {
  ...outboxEnvShape,
  ...relayEnvShape,
  ...telemetryEnvShape,
  /** 0 picks a free port (logged in the `listening` line). */
  PORT: envVar.port().default(8081),
  ORDERS_SCHEMA: envVar.sqlIdentifier().default('orders'),
  /** Follow the payment worker's events (PaymentStarted/Succeeded/Failed) and move the orders they name. */
  ORDERS_PAYMENT_EVENTS: envVar.flag(true),
  /** Durable JetStream consumer of those events, also the key of the service's inbox rows. */
  ORDERS_PAYMENTS_CONSUMER: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"').default('orders-payments'),
  /** Each replica takes part in relay leader election unless this is false. */
  ORDERS_RELAY_ENABLED: envVar.flag(true),
  HTTP_BODY_LIMIT: byteSize.default(64 * 1024),
  /** How long SIGTERM waits for in-flight requests before cutting connections. */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
  /** Connections for HTTP requests (the embedded relay has its own small pool so load cannot starve its lease). */
  ORDERS_DB_POOL_MAX: z.coerce.number().int().min(1).max(500).default(20),
  /**
   * Creates without an Idempotency-Key that arrive while writes are in flight are written together, in one
   * statement of up to this many orders (1 turns batching off).
   */
  ORDERS_WRITE_BATCH_MAX: z.coerce.number().int().min(1).max(1000).default(100),
  /** Order writes in flight at once (each a batch); at most ORDERS_DB_POOL_MAX. */
  ORDERS_WRITE_CONCURRENCY: z.coerce.number().int().min(1).max(500).default(4),
};

export const ordersEnvSchema = z
  .object(ordersEnvShape)
  .superRefine(checkRelayTimings)
  .superRefine((env, ctx) => {
    if (env.ORDERS_WRITE_CONCURRENCY > env.ORDERS_DB_POOL_MAX) {
      ctx.addIssue({
        code: 'custom',
        path: ['ORDERS_WRITE_CONCURRENCY'],
        message: `must be at most ORDERS_DB_POOL_MAX (${env.ORDERS_DB_POOL_MAX})`,
      });
    }
  });

export type OrdersConfig = z.output<typeof ordersEnvSchema>;
