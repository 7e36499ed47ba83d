import { Pool } from 'pg';
import type { Logger } from 'pino';
import { connectNats, OutboxRelay, relaySettingsFromEnv, type RelayObserver, type RelayStatus } from '@outbox-relay/outbox';
import type { PaymentsConfig } from './config';

/** Connections of the embedded relay: lease renewals must never queue behind payment transactions. */
const RELAY_POOL_MAX = 4;

export interface EmbeddedRelay {
  status(): RelayStatus;
  /** Graceful: finishes the in-flight batch, releases the leases, closes its NATS connection and pool. */
  stop(): Promise<void>;
}

/**
 * This worker's relay candidate (PAYMENTS_RELAY_ENABLED): it campaigns for the outbox leases like every other
 * relay on OUTBOX_SCHEMA, so the worker's PaymentSucceeded / PaymentFailed events go out even when no other
 * relay runs. Resolves once NATS answered. `observer` receives what it does (metrics).
 */
export async function startEmbeddedRelay(config: PaymentsConfig, logger: Logger, observer?: RelayObserver): Promise<EmbeddedRelay> {
  const settings = relaySettingsFromEnv(config);
  const pool = new Pool({ connectionString: config.DATABASE_URL, max: RELAY_POOL_MAX, application_name: 'payments-relay' });
  pool.on('error', (error) => logger.warn({ err: error }, 'relay pool: idle client error'));
  let nats: Awaited<ReturnType<typeof connectNats>> | undefined;
  try {
    nats = await connectNats({ url: config.NATS_URL, name: `payments-relay-${settings.instanceId}`, credsFile: config.NATS_CREDS_FILE, logger });
    const relay = new OutboxRelay({ pool, nats, logger, observer }, settings);
    await relay.start();
    const connection = nats;
    return {
      status: () => relay.status(),
      async stop() {
        try {
          await relay.stop();
        } finally {
          await connection.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the relay NATS connection failed'));
          await pool.end();
        }
      },
    };
  } catch (error) {
    await nats?.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    throw error;
  }
}
