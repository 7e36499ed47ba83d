/**
 * The subscriber process: one durable JetStream consumer per SUBSCRIBER_ID, one JSON log line per event.
 * Exit codes: 0 after a graceful stop, 1 on a runtime failure, 2 on invalid configuration.
 */
import { createLogger, exitOnUncaught, ProcessShutdown, readConfigOrExit, type ServiceHttp } from '@outbox-relay/runtime';
import { connectNats } from '@outbox-relay/outbox';
import { httpObservers, ServiceMetrics, startTracing } from '@outbox-relay/telemetry';
import { loadSubscriberConfig, type SubscriberConfig } from './config';
import { consumerNameFor, startSubscriber } from './consumer';
import { SubscriberMetrics } from './metrics';
import { createSubscriberHttp } from './subscriber-http';

async function main(): Promise<void> {
  const config: SubscriberConfig = readConfigOrExit('subscriber', () => loadSubscriberConfig(process.env));
  // startSubscriber binds subscriberId and consumer to its own lines; the process's lines get the id here.
  const baseLogger = createLogger('subscriber', config.logLevel);
  const logger = baseLogger.child({ subscriberId: config.subscriberId });
  exitOnUncaught(logger);
  const tracing = startTracing(config.tracing, { logger });
  const metrics = new ServiceMetrics();
  const subscriberMetrics = new SubscriberMetrics(metrics.registry, consumerNameFor(config.subscriberId));
  const nc = await connectNats({ ...config.nats, name: `subscriber-${config.subscriberId}`, logger });
  const subscriber = await startSubscriber({
    nc,
    stream: config.stream,
    subjectPrefix: config.subjectPrefix,
    subscriberId: config.subscriberId,
    filterSubject: config.filterSubject,
    duplicateWindowMs: config.duplicateWindowMs,
    streamOwnership: config.streamOwnership,
    nakDelayMs: config.nakDelayMs,
    maxAckPending: config.maxAckPending,
    logger: baseLogger,
    onOutcome: subscriberMetrics.delivered,
  });

  let http: ServiceHttp | undefined;
  if (config.httpPort !== undefined) {
    http = createSubscriberHttp({
      logger,
      consuming: () => subscriber.state === 'consuming' && !nc.isClosed(),
      details: () => ({ state: subscriber.state, subscriberId: config.subscriberId, consumer: subscriber.consumerName, processed: subscriber.processed }),
      metrics,
      observers: httpObservers({ metrics: metrics.http, tracing: false }),
    });
    const port = await http.listen(config.httpPort, '0.0.0.0');
    logger.info({ port }, 'Health endpoint listening');
  }

  const shutdown = new ProcessShutdown({
    logger,
    timeoutMs: 10_000,
    stop: async () => {
      await subscriber.stop();
      await http?.close(1000);
      await nc.drain();
      await tracing.shutdown();
    },
  }).onSignals();

  subscriber.done.then(
    () => {
      if (!shutdown.stopping) {
        logger.error('Consuming ended unexpectedly');
        process.exit(1);
      }
    },
    (error: unknown) => {
      logger.error({ err: error }, 'Consuming failed');
      process.exit(1);
    },
  );
  nc.closed().then((error) => {
    if (!shutdown.stopping) {
      logger.error({ err: error }, 'NATS connection closed');
      process.exit(1);
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`subscriber: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
