import type { Logger } from 'pino';
import { relaySettingsFromEnv, startEmbeddedRelay as startRelay, type EmbeddedRelay, type RelayObserver } from '@outbox-relay/outbox';
import type { PaymentsConfig } from './config';

export type { EmbeddedRelay };

/**
 * This worker's relay candidate (PAYMENTS_RELAY_ENABLED): it campaigns for the outbox leases like every other
 * relay on OUTBOX_SCHEMA, so the worker's PaymentSucceeded / PaymentFailed events go out even when no other relay
 * runs. Resolves once NATS answered.
 */
export function startEmbeddedRelay(config: PaymentsConfig, logger: Logger, observer?: RelayObserver): Promise<EmbeddedRelay> {
  return startRelay({
    databaseUrl: config.DATABASE_URL,
    natsUrl: config.NATS_URL,
    credsFile: config.NATS_CREDS_FILE,
    settings: relaySettingsFromEnv(config),
    name: 'payments',
    logger,
    observer,
  });
}
