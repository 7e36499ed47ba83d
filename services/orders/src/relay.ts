import type { Logger } from 'pino';
import { relaySettingsFromEnv, startEmbeddedRelay as startRelay, type EmbeddedRelay, type RelayObserver } from '@outbox-relay/outbox';
import type { OrdersConfig } from './config';

export type { EmbeddedRelay };

/**
 * Starts this replica's relay candidate (see the library's startEmbeddedRelay), or returns null when
 * ORDERS_RELAY_ENABLED is false. Resolves only once NATS answered, so the HTTP server must not await it first.
 */
export async function startEmbeddedRelay(config: OrdersConfig, logger: Logger, observer?: RelayObserver): Promise<EmbeddedRelay | null> {
  if (!config.ORDERS_RELAY_ENABLED) {
    logger.info('embedded relay disabled (ORDERS_RELAY_ENABLED=false)');
    return null;
  }
  return startRelay({
    databaseUrl: config.DATABASE_URL,
    natsUrl: config.NATS_URL,
    credsFile: config.NATS_CREDS_FILE,
    settings: relaySettingsFromEnv(config),
    name: 'orders',
    logger,
    observer,
  });
}
