import { connectNats, PostgresPrimary, migrateOutbox, natsConnectionFromEnv, OutboxRelay, readBacklog, waitForSchema, relaySettingsFromEnv, type StreamConfigError } from '@outbox-relay/outbox';
import { createLogger, exitOnUncaught, ProcessShutdown, readConfigOrExit, readEnvOrExit } from '@outbox-relay/runtime';
import { BacklogMetrics, httpObservers, RelayMetrics, ServiceMetrics, startTracing, tracingSettingsFromEnv } from '@outbox-relay/telemetry';
import { readAdminToken } from './admin-token';
import { StatusBacklog, statusWithBacklog } from './status-backlog';
import { relayProcessEnvSchema } from './config';
import { createRelayHttp } from './relay-http';

/** The documented exit status of a configuration error, a stream that does not fit included (README). */
const STREAM_CONFIG_EXIT_CODE = 2;

async function main(): Promise<void> {
  const env = readEnvOrExit('outbox-relay', relayProcessEnvSchema);
  const settings = relaySettingsFromEnv(env);
  const adminToken = readConfigOrExit('outbox-relay', () => readAdminToken(env));
  const logger = createLogger('relay', env.LOG_LEVEL, { instanceId: settings.instanceId });
  // A bug that escapes every handler is logged as one fatal line (event ids, partition, epoch in the error) and
  // ends the process, which its supervisor restarts; the lease expires and another relay takes over.
  exitOnUncaught(logger);
  const tracing = startTracing(tracingSettingsFromEnv(env, 'outbox-relay'), { logger });
  // Every connection reaches only the primary of DATABASE_URL's host list (a standby or a returned old primary is
  // refused), so after a failover the relay follows the promoted server without being reconfigured.
  const primary = PostgresPrimary.fromUrl(env.DATABASE_URL);
  // Reads and marks: up to two statements in flight per partition, plus metrics.
  const pool = primary.pool({ max: env.RELAY_DB_POOL_MAX, application_name: 'outbox-relay' });
  pool.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'));
  // Lease renewals, releases and membership: never queued behind the data traffic above.
  const leasePool = primary.pool({ max: 2, application_name: 'outbox-relay-lease' });
  leasePool.on('error', (error) => logger.warn({ err: error }, 'idle lease connection failed'));
  const metrics = new ServiceMetrics();
  let relay: OutboxRelay | null = null;
  let ready = false;
  const notStarted = { instanceId: settings.instanceId, leading: false, partitions: [], balance: null, natsConnected: null };
  // Read only once the relay runs (the tables exist then), at most as often as the backlog gauges are.
  const backlog = new StatusBacklog(() => readBacklog(pool, env.OUTBOX_SCHEMA), env.METRICS_BACKLOG_CACHE_MS, logger);
  const http = createRelayHttp({
    logger,
    // What the operator judges a leader by: its leases and their progress, with the backlog they have to publish.
    status: () => (relay ? statusWithBacklog(relay.status(), backlog.current()) : statusWithBacklog(notStarted, null)),
    isReady: () => ready,
    stepDown: async () => (relay ? relay.stepDown() : []),
    adminToken,
    metrics,
    observers: httpObservers({ metrics: metrics.http, tracing: false }),
  });
  const port = await http.listen(env.RELAY_HTTP_PORT);
  logger.info({ port, stepDown: adminToken ? 'token required' : 'disabled' }, 'health endpoints listening');

  const starting = new AbortController();
  let nats: Awaited<ReturnType<typeof connectNats>> | null = null;
  const shutdown = new ProcessShutdown({
    logger,
    // Past it the process exits without releasing its leases; they expire and another relay takes over.
    timeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    stop: async () => {
      ready = false;
      starting.abort();
      await relay?.stop();
      await http.close(1000);
      await backlog.settled();
      await nats?.drain().catch(() => undefined);
      await pool.end();
      await leasePool.end();
      await tracing.shutdown();
    },
  }).onSignals();

  // Not ready (503 on /readyz) until the schema exists: started before the application's first migration, the
  // relay waits instead of crash-looping.
  const partitions = env.OUTBOX_MIGRATE
    ? (await migrateOutbox({ pool, schema: env.OUTBOX_SCHEMA, partitions: env.OUTBOX_PARTITIONS, logger })).partitions
    : await waitForSchema(pool, env.OUTBOX_SCHEMA, { logger, signal: starting.signal }).catch(() => undefined);
  if (shutdown.stopping) return;
  // Writers hash aggregates with the schema's count, so that count is the one that holds; a different
  // OUTBOX_PARTITIONS (e.g. an OutboxRelay's spec.partitions) only takes effect through a migration.
  if (partitions !== undefined && env.OUTBOX_PARTITIONS !== undefined && env.OUTBOX_PARTITIONS !== partitions) {
    logger.error(
      { configured: env.OUTBOX_PARTITIONS, schema: env.OUTBOX_SCHEMA, partitions },
      'OUTBOX_PARTITIONS differs from the schema\'s partition count; using the schema\'s. Apply it with `outboxctl migrate --partitions` (running relays follow the change)',
    );
  }
  nats = await connectNats({ ...natsConnectionFromEnv(env), name: `outbox-relay ${settings.instanceId}`, logger });
  // The gauges read the relay's leases at scrape time.
  const observer = new RelayMetrics(metrics.registry, { leadership: () => relay?.status().partitions ?? [] });
  new BacklogMetrics(metrics.registry, { pool, schema: env.OUTBOX_SCHEMA, cacheMs: env.METRICS_BACKLOG_CACHE_MS, logger });
  // The stream does not fit (verify mode, or another stream holds the subjects): a configuration error like a bad
  // variable, so the same exit status 2 and one plain line, not a retry loop. Pods restart into the same line,
  // which the operator shows from the container's last termination.
  const onStreamConfigError = (error: StreamConfigError) => {
    ready = false;
    process.stderr.write(`outbox-relay: ${error.message}\n`);
    void shutdown.run('stream configuration error', STREAM_CONFIG_EXIT_CODE);
  };
  const started = new OutboxRelay({ pool, leasePool, nats, logger, observer, onStreamConfigError }, settings);
  await started.start();
  // Published only once started: a shutdown during start-up exits without a half-built relay to stop.
  relay = started;
  if (shutdown.stopping) return;
  ready = true;
  logger.info({ port }, 'relay started');
}

main().catch((error: unknown) => {
  process.stderr.write(`outbox-relay: fatal: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
