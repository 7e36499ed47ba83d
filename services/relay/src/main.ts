import { Pool } from 'pg';
import {
  ConfigError,
  connectNats,
  createLogger,
  migrateOutbox,
  OutboxRelay,
  parseEnv,
  relaySettingsFromEnv,
} from '@outbox-relay/outbox';
import { relayProcessEnvSchema } from './config';
import { createHealthServer, listen } from './health-server';

async function main(): Promise<void> {
  let env;
  try {
    env = parseEnv(relayProcessEnvSchema, process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`outbox-relay: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const settings = relaySettingsFromEnv(env);
  const logger = createLogger('relay', env.LOG_LEVEL, { instanceId: settings.instanceId });
  const pool = new Pool({ connectionString: env.DATABASE_URL, max: 4 });
  pool.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'));
  if (env.OUTBOX_MIGRATE) await migrateOutbox({ pool, schema: env.OUTBOX_SCHEMA, partitions: env.OUTBOX_PARTITIONS, logger });

  const nats = await connectNats({ url: env.NATS_URL, name: `outbox-relay ${settings.instanceId}`, credsFile: env.NATS_CREDS_FILE, logger });
  const relay = new OutboxRelay({ pool, nats, logger }, settings);
  let ready = false;
  const server = createHealthServer({ status: () => relay.status(), isReady: () => ready, stepDown: () => relay.stepDown() });
  const port = await listen(server, env.RELAY_HTTP_PORT);
  await relay.start();
  ready = true;
  logger.info({ port }, 'relay listening');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    ready = false;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error('shutdown timed out; exiting (the lease will expire)');
      process.exit(1);
    }, env.SHUTDOWN_TIMEOUT_MS);
    await relay.stop();
    server.close();
    await nats.drain().catch(() => undefined);
    await pool.end();
    clearTimeout(timer);
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`outbox-relay: fatal: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
