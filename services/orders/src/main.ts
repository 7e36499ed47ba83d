import { connectNats, PostgresPrimary, embeddedRelayOptionsFromEnv, natsConnectionFromEnv, Outbox, startEmbeddedRelay, StreamConfigError, streamOwnershipFromEnv, type EmbeddedRelay } from '@outbox-relay/outbox';
import { createLogger, exitOnUncaught, ProcessShutdown, readEnvOrExit, settleWithin } from '@outbox-relay/runtime';
import { BacklogMetrics, httpObservers, RelayMetrics, ServiceMetrics, startTracing, tracingSettingsFromEnv } from '@outbox-relay/telemetry';
import { ordersEnvSchema, type OrdersConfig } from './config';
import { startPaymentEventsConsumer } from './consumers/payment-events-consumer';
import { createOrdersHttp } from './http/app';
import { migrateOrders } from './migrate';

async function main(): Promise<void> {
  const config: OrdersConfig = readEnvOrExit('orders', ordersEnvSchema);
  const logger = createLogger('orders', config.LOG_LEVEL);
  const tracing = startTracing(tracingSettingsFromEnv(config, 'orders'), { logger });
  exitOnUncaught(logger);

  // Only ever the primary of DATABASE_URL's host list: orders are never written to a standby or a returned old primary.
  const pool = PostgresPrimary.fromUrl(config.DATABASE_URL).pool({ max: config.ORDERS_DB_POOL_MAX, application_name: 'orders' });
  pool.on('error', (error) => logger.warn({ err: error }, 'pool: idle client error'));
  if (config.OUTBOX_MIGRATE) {
    await migrateOrders({
      pool,
      schema: config.ORDERS_SCHEMA,
      outboxSchema: config.OUTBOX_SCHEMA,
      partitions: config.OUTBOX_PARTITIONS,
      logger,
    });
  }
  const outbox = new Outbox({ pool, schema: config.OUTBOX_SCHEMA, logger, maxPayloadBytes: config.OUTBOX_MAX_PAYLOAD_BYTES });

  let ready = false;
  let relay: EmbeddedRelay | null = null;
  const metrics = new ServiceMetrics();
  const relayMetrics = new RelayMetrics(metrics.registry, { leadership: () => relay?.status().partitions ?? null });
  new BacklogMetrics(metrics.registry, { pool, schema: config.OUTBOX_SCHEMA, cacheMs: config.METRICS_BACKLOG_CACHE_MS, logger });
  // A stream that does not fit is a configuration error like a bad variable: status 2 and one plain line.
  const streamMisfit = (error: StreamConfigError) => {
    process.stderr.write(`orders: ${error.message}\n`);
    void shutdown.run('stream configuration error', 2);
  };
  // The relay waits for NATS; orders are still taken meanwhile (the outbox holds their events).
  if (!config.ORDERS_RELAY_ENABLED) logger.info('embedded relay disabled (ORDERS_RELAY_ENABLED=false)');
  // Resolves only once NATS answered, so the HTTP server does not wait for it.
  const relayStarted = (
    config.ORDERS_RELAY_ENABLED ? startEmbeddedRelay(embeddedRelayOptionsFromEnv(config, { name: 'orders', logger, observer: relayMetrics, onStreamConfigError: streamMisfit })) : Promise.resolve(null)
  ).then((started) => {
    relay = started;
    return started;
  });
  relayStarted.catch((error: unknown) => {
    logger.fatal({ err: error }, 'embedded relay failed to start');
    void shutdown.run('relay failed', 1);
  });

  // The payment worker's events move orders to PAYMENT_PENDING, PAID or FAILED. Like the relay, this waits for
  // NATS in the background: orders are taken meanwhile, and the events wait in the stream.
  if (!config.ORDERS_PAYMENT_EVENTS) logger.info('payment events not followed (ORDERS_PAYMENT_EVENTS=false)');
  const paymentEvents = config.ORDERS_PAYMENT_EVENTS
    ? connectNats({ ...natsConnectionFromEnv(config), name: `orders payment events`, logger }).then(async (nc) => {
        const settings = {
          ordersSchema: config.ORDERS_SCHEMA,
          stream: config.OUTBOX_STREAM,
          subjectPrefix: config.OUTBOX_SUBJECT_PREFIX,
          duplicateWindowMs: config.OUTBOX_DUPLICATE_WINDOW_MS,
          streamOwnership: streamOwnershipFromEnv(config),
          consumerName: config.ORDERS_PAYMENTS_CONSUMER,
        };
        const worker = await startPaymentEventsConsumer({ pool, nc, logger }, settings).catch(async (error: unknown) => {
          await nc.close();
          throw error;
        });
        worker.done.catch((error: unknown) => {
          logger.fatal({ err: error }, 'consuming payment events failed');
          void shutdown.run('payment events consumer failed', 1);
        });
        return { nc, worker };
      })
    : Promise.resolve(null);
  paymentEvents.catch((error: unknown) => {
    if (error instanceof StreamConfigError) return streamMisfit(error);
    logger.fatal({ err: error }, 'payment events consumer failed to start');
    void shutdown.run('payment events consumer failed', 1);
  });

  const http = createOrdersHttp({
    pool,
    outbox,
    ordersSchema: config.ORDERS_SCHEMA,
    logger,
    isReady: () => ready && !shutdown.stopping,
    relayStatus: config.ORDERS_RELAY_ENABLED
      ? () => relay?.status() ?? { state: 'starting (waiting for NATS)', leading: false, partitions: [] }
      : undefined,
    bodyLimitBytes: config.HTTP_BODY_LIMIT,
    metrics,
    observers: httpObservers({ metrics: metrics.http, tracing: tracing.enabled }),
    writeBatching: { maxBatch: config.ORDERS_WRITE_BATCH_MAX, maxInFlight: config.ORDERS_WRITE_CONCURRENCY },
  });
  const shutdown = new ProcessShutdown({
    logger,
    // Last resort if a dependency hangs; well inside a default 30 s termination grace period.
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS + 10_000,
    stop: async () => {
      if (http.app.server.listening) {
        const closing = http.close(config.SHUTDOWN_TIMEOUT_MS);
        logger.info({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'stopped accepting connections; finishing in-flight requests');
        if (!(await closing)) logger.warn({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'in-flight requests cut off at SHUTDOWN_TIMEOUT_MS');
        logger.info('http server closed');
      }
      const consuming = await settleWithin(paymentEvents.catch(() => null), 1000);
      if (consuming) {
        await consuming.worker.stop().catch((error: unknown) => logger.error({ err: error }, 'stopping the payment events consumer failed'));
        await consuming.nc.close().catch(() => undefined);
        logger.info('payment events consumer stopped');
      }
      // A relay still waiting for NATS holds no lease; one that started releases its leases now.
      const running = await settleWithin(relayStarted.catch(() => null), 1000);
      if (running) {
        await running.stop().catch((error: unknown) => logger.error({ err: error }, 'stopping the relay failed'));
        logger.info('relay stopped, leases released');
      }
      await outbox.close();
      await pool.end();
      await tracing.shutdown();
    },
  }).onSignals();

  const port = await http.listen(config.PORT);
  ready = true;
  logger.info({ port, ordersSchema: config.ORDERS_SCHEMA, outboxSchema: config.OUTBOX_SCHEMA, relay: config.ORDERS_RELAY_ENABLED }, 'listening');
}

main().catch((error: unknown) => {
  process.stderr.write(`orders: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
