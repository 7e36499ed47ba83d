#!/usr/bin/env node
/**
 * The payment worker process. Exit codes: 0 after a graceful stop (SIGTERM / SIGINT), 1 on a runtime failure
 * (including a start-up failure such as unmigrated schemas), 2 on invalid configuration.
 */
import type { Pool } from 'pg';
import type { NatsConnection } from '@nats-io/nats-core';
import { connectNats, embeddedRelayOptionsFromEnv, PostgresPrimary, natsConnectionFromEnv, startEmbeddedRelay, StreamConfigError, type EmbeddedRelay } from '@outbox-relay/outbox';
import { createLogger, exitOnUncaught, ProcessShutdown, readEnvOrExit, settleWithin, type ProcessLogger, type ServiceHttp } from '@outbox-relay/runtime';
import { BacklogMetrics, httpObservers, RelayMetrics, ServiceMetrics, startTracing, tracingSettingsFromEnv } from '@outbox-relay/telemetry';
import { paymentsEnvSchema, paymentWorkerSettings, type PaymentsConfig } from './config';
import { FakePaymentGateway } from './gateway/fake-gateway';
import { createPaymentsHttp } from './http/payments-http';
import { registerPaymentMetrics } from './metrics';
import { migratePayments } from './migrate';
import { startMetricsLog } from './worker/metrics-log';
import { startPaymentWorker, type PaymentWorker } from './worker/payment-worker';

function fakeGateway(config: PaymentsConfig, pool: Pool, logger: ProcessLogger): FakePaymentGateway {
  const settings = {
    successRate: config.FAKE_GATEWAY_SUCCESS_RATE,
    latencyMs: config.FAKE_GATEWAY_LATENCY_MS,
    failing: config.FAKE_GATEWAY_FAILING,
  };
  logger.warn({ fakeGateway: settings }, 'using the fake payment gateway (PAYMENTS_GATEWAY=fake): no real money moves');
  return new FakePaymentGateway({ pool, schema: config.PAYMENTS_SCHEMA, settings, logger });
}

async function main(): Promise<void> {
  const config: PaymentsConfig = readEnvOrExit('payments', paymentsEnvSchema);
  const logger = createLogger('payments', config.LOG_LEVEL);
  const tracing = startTracing(tracingSettingsFromEnv(config, 'payments'), { logger });
  exitOnUncaught(logger);

  // Only ever the primary of DATABASE_URL's host list.
  const pool = PostgresPrimary.fromUrl(config.DATABASE_URL).pool({ max: config.PAYMENTS_DB_POOL_MAX, application_name: 'payments' });
  pool.on('error', (error) => logger.warn({ err: error }, 'pool: idle client error'));
  if (config.OUTBOX_MIGRATE) {
    await migratePayments({
      pool,
      outboxSchema: config.OUTBOX_SCHEMA,
      inboxSchema: config.INBOX_SCHEMA,
      paymentsSchema: config.PAYMENTS_SCHEMA,
      fakeGateway: config.PAYMENTS_GATEWAY === 'fake',
      partitions: config.OUTBOX_PARTITIONS,
      logger,
    });
  }
  const gateway = fakeGateway(config, pool, logger);

  let worker: PaymentWorker | null = null;
  let relay: EmbeddedRelay | null = null;
  let http: ServiceHttp | undefined;
  let nc: NatsConnection | null = null;
  let metricsLog: { stop(): void } | null = null;
  let relayStarted: Promise<EmbeddedRelay | null> = Promise.resolve(null);
  const shutdown = new ProcessShutdown({
    logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS + 5000,
    stop: async () => {
      await http?.close(0);
      await worker?.stop().catch((error: unknown) => logger.error({ err: error }, 'stopping the worker failed'));
      metricsLog?.stop();
      // A relay still waiting for NATS holds no lease; one that started releases its leases now.
      const embedded = await settleWithin(relayStarted.catch(() => null), 1000);
      if (embedded) {
        await embedded.stop().catch((error: unknown) => logger.error({ err: error }, 'stopping the relay failed'));
        logger.info('relay stopped, leases released');
      }
      await nc?.close().catch(() => undefined);
      await pool.end().catch(() => undefined);
      await tracing.shutdown();
    },
  }).onSignals();
  const serviceMetrics = new ServiceMetrics();
  const relayMetrics = new RelayMetrics(serviceMetrics.registry, { leadership: () => relay?.status().partitions ?? null });
  new BacklogMetrics(serviceMetrics.registry, { pool, schema: config.OUTBOX_SCHEMA, cacheMs: config.METRICS_BACKLOG_CACHE_MS, logger });
  registerPaymentMetrics(serviceMetrics, config.PAYMENTS_CONSUMER, () => worker?.stats() ?? null);
  if (config.PAYMENTS_HTTP_PORT !== undefined) {
    http = createPaymentsHttp({
      pool,
      logger,
      isReady: () => worker !== null && !shutdown.stopping,
      stats: () => worker?.stats() ?? null,
      relayStatus: config.PAYMENTS_RELAY_ENABLED ? () => relay?.status() ?? { state: 'starting (waiting for NATS)' } : undefined,
      fakeGateway: gateway,
      metrics: serviceMetrics,
      observers: httpObservers({ metrics: serviceMetrics.http, tracing: false }),
    });
    const port = await http.listen(config.PAYMENTS_HTTP_PORT);
    logger.info({ port, admin: '/admin/fake-gateway' }, 'http listening');
  }

  nc = await connectNats({ ...natsConnectionFromEnv(config), name: `payments-${config.PAYMENTS_CONSUMER}`, logger });
  // A stream that does not fit is a configuration error like a bad variable: status 2 and one plain line.
  const streamMisfit = (error: StreamConfigError) => {
    process.stderr.write(`payments: ${error.message}\n`);
    void shutdown.run('stream configuration error', 2);
  };
  const running = await startPaymentWorker({ pool, nc, gateway, logger, retention: relayMetrics }, paymentWorkerSettings(config)).catch((error: unknown) => {
    if (error instanceof StreamConfigError) streamMisfit(error);
    throw error;
  });
  worker = running;
  metricsLog = startMetricsLog(() => running.stats(), logger, config.PAYMENTS_METRICS_INTERVAL_MS);

  // This worker's relay candidate campaigns for the outbox leases like every other relay on OUTBOX_SCHEMA, so its
  // PaymentStarted / PaymentSucceeded / PaymentFailed events go out even when no other relay runs.
  relayStarted = config.PAYMENTS_RELAY_ENABLED
    ? startEmbeddedRelay(embeddedRelayOptionsFromEnv(config, { name: 'payments', logger, observer: relayMetrics, onStreamConfigError: streamMisfit }))
    : Promise.resolve(null);
  relayStarted.then(
    (started) => (relay = started),
    (error: unknown) => {
      logger.fatal({ err: error }, 'embedded relay failed to start');
      void shutdown.run('relay failed', 1);
    },
  );
  running.done.catch((error: unknown) => {
    logger.fatal({ err: error }, 'consume loop failed');
    void shutdown.run('consume loop failed', 1);
  });
}

main().catch((error: unknown) => {
  // Already reported in one line; the shutdown under way exits with status 2.
  if (error instanceof StreamConfigError) return;
  process.stderr.write(`payments: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
