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
  })
  .superRefine(checkRelayTimings);

export type RelayProcessEnv = z.output<typeof relayProcessEnvSchema>;
