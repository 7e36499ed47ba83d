import { Pool } from 'pg';
import type { Logger } from 'pino';
import { connectNats, OutboxRelay, relaySettingsFromEnv, type RelayObserver } from '@outbox-relay/outbox';
import type { OrdersConfig } from './config';

/** Connections of the embedded relay: lease renewals must never queue behind HTTP traffic. */
const RELAY_POOL_MAX = 4;

export interface EmbeddedRelay {
  status(): ReturnType<OutboxRelay['status']>;
  /** Graceful: finishes the in-flight batch, releases the leases, closes NATS and the relay's pool. */
  stop(): Promise<void>;
}

/**
 * Starts this replica's relay: it campaigns for the outbox leases like every other replica and publishes where
 * it leads. Returns null when ORDERS_RELAY_ENABLED is false. Resolves only once NATS answered, so callers that
 * must not wait for NATS (the HTTP server) should not await it first. `observer` receives what it does (metrics).
 */
export async function startEmbeddedRelay(config: OrdersConfig, logger: Logger, observer?: RelayObserver): Promise<EmbeddedRelay | null> {
  if (!config.ORDERS_RELAY_ENABLED) {
    logger.info('embedded relay disabled (ORDERS_RELAY_ENABLED=false)');
    return null;
  }
  const settings = relaySettingsFromEnv(config);
  const pool = new Pool({ connectionString: config.DATABASE_URL, max: RELAY_POOL_MAX, application_name: 'orders-relay' });
  pool.on('error', (error) => logger.warn({ err: error }, 'relay pool: idle client error'));
  let nats: Awaited<ReturnType<typeof connectNats>> | undefined;
  try {
    nats = await connectNats({ url: config.NATS_URL, name: `orders-${settings.instanceId}`, credsFile: config.NATS_CREDS_FILE, logger });
    const relay = new OutboxRelay({ pool, nats, logger, observer }, settings);
    await relay.start();
    const connection = nats;
    return {
      status: () => relay.status(),
      async stop() {
        try {
          await relay.stop();
        } finally {
          await connection.close().catch((error: unknown) => logger.warn({ err: error }, 'closing NATS failed'));
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
