import { z } from 'zod';
import { checkRelayTimings, outboxEnvShape, relayEnvShape } from '@outbox-relay/outbox';
import { telemetryEnvShape } from '@outbox-relay/telemetry';

/** Environment of the stand-alone relay process (see README's configuration table). */
export const relayProcessEnvSchema = z
  .object({
    ...outboxEnvShape,
    ...relayEnvShape,
    ...telemetryEnvShape,
    RELAY_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8090),
    /** Connections for reads, marks and metrics (lease traffic has its own two). */
    RELAY_DB_POOL_MAX: z.coerce.number().int().min(2).max(200).default(10),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    /** A file holding the token `POST /step-down` requires (a mounted Secret); read once at start (admin-token.ts). */
    OUTBOX_ADMIN_TOKEN_FILE: z.string().min(1).optional(),
    /** The token itself, for an environment variable set from a secretKeyRef. Never logged. */
    OUTBOX_ADMIN_TOKEN: z.string().regex(/^\S+$/, 'must not contain white space').optional(),
  })
  .superRefine(checkRelayTimings)
  .superRefine((env, ctx) => {
    if (env.OUTBOX_ADMIN_TOKEN !== undefined && env.OUTBOX_ADMIN_TOKEN_FILE !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['OUTBOX_ADMIN_TOKEN'], message: 'set either OUTBOX_ADMIN_TOKEN or OUTBOX_ADMIN_TOKEN_FILE, not both' });
    }
  });

export type RelayProcessEnv = z.output<typeof relayProcessEnvSchema>;
