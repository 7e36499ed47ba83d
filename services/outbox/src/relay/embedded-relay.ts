import { silentLogger, type Logger } from '@outbox-relay/runtime';
import { connectNats, natsConnectionFromEnv, type NatsTlsFiles } from '../publish/nats';
import type { StreamConfigError } from '../publish/stream-config';
import type { RelayObserver } from './observer';
import { OutboxRelay, type RelayStatus } from './relay';
import { relaySettingsFromEnv, type RelayEnv, type RelaySettings } from '../config';
import { PostgresPrimary } from '../postgres/postgres-primary';

export interface EmbeddedRelayOptions {
  databaseUrl: string;
  natsUrl: string;
  /** NATS .creds file, when the server wants credentials. */
  credsFile?: string;
  /** TLS files for NATS (NATS_TLS_*). */
  tls?: NatsTlsFiles;
  settings: RelaySettings;
  /** Names the relay's connections (`application_name`, NATS connection name), e.g. `orders`. */
  name: string;
  /** Any pino-compatible logger, or `console`; default: logs nothing. */
  logger?: Logger;
  observer?: RelayObserver;
  /** Connections for reads and marks. Default 4. */
  poolMax?: number;
  /** The stream does not fit the configuration (see OutboxRelayDeps.onStreamConfigError). */
  onStreamConfigError?: (error: StreamConfigError) => void;
}

/**
 * The options of a relay embedded in a service whose configuration includes the relay's variables (the outbox's
 * and the relay's environment shapes): the same variables mean the same thing in every process.
 */
export function embeddedRelayOptionsFromEnv(env: RelayEnv, owner: { name: string; logger?: Logger; observer?: RelayObserver; onStreamConfigError?: (error: StreamConfigError) => void }): EmbeddedRelayOptions {
  return {
    databaseUrl: env.DATABASE_URL,
    natsUrl: env.NATS_URL,
    credsFile: env.NATS_CREDS_FILE,
    tls: natsConnectionFromEnv(env).tls,
    settings: relaySettingsFromEnv(env),
    ...owner,
  };
}

/** A relay candidate running inside a service process, with connections of its own. */
export interface EmbeddedRelay {
  status(): RelayStatus;
  /** Graceful: finishes the in-flight batches, releases the leases, closes its NATS connection and pools. */
  stop(): Promise<void>;
}

/**
 * Starts a relay inside a service (the order service, the payment worker): it campaigns for the outbox leases
 * like every other relay and publishes where it leads. It has its own pools, so neither the service's traffic nor
 * the relay's reads can delay a lease renewal (those get two connections of their own). Resolves once NATS
 * answered; a caller that must not wait for NATS (an HTTP server) should not await it first.
 */
export async function startEmbeddedRelay(options: EmbeddedRelayOptions): Promise<EmbeddedRelay> {
  const logger = options.logger ?? silentLogger;
  // Both pools (and the LISTEN connection) reach only the primary of DATABASE_URL's host list.
  const primary = PostgresPrimary.fromUrl(options.databaseUrl);
  const pool = primary.pool({ max: options.poolMax ?? 4, application_name: `${options.name}-relay` });
  const leasePool = primary.pool({ max: 2, application_name: `${options.name}-relay-lease` });
  for (const p of [pool, leasePool]) p.on('error', (error) => logger.warn({ err: error }, 'relay pool: idle client error'));
  const closePools = () => Promise.all([pool.end(), leasePool.end()]).then(() => undefined);
  let nats: Awaited<ReturnType<typeof connectNats>> | undefined;
  try {
    nats = await connectNats({ url: options.natsUrl, name: `${options.name}-relay-${options.settings.instanceId}`, credsFile: options.credsFile, tls: options.tls, logger });
    const relay = new OutboxRelay({ pool, leasePool, nats, logger, observer: options.observer, onStreamConfigError: options.onStreamConfigError }, options.settings);
    await relay.start();
    const connection = nats;
    return {
      status: () => relay.status(),
      async stop() {
        try {
          await relay.stop();
        } finally {
          await connection.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the relay NATS connection failed'));
          await closePools();
        }
      },
    };
  } catch (error) {
    await nats?.close().catch(() => undefined);
    await closePools().catch(() => undefined);
    throw error;
  }
}
