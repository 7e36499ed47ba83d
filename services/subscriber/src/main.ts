/**
 * The subscriber process: one durable JetStream consumer per SUBSCRIBER_ID, one JSON log line per event.
 * Exit codes: 0 after a graceful stop, 1 on a runtime failure, 2 on invalid configuration.
 */
import http from 'node:http';
import { createLogger, exitOnUncaught, listenHttp, ProcessShutdown, readConfigOrExit } from '@outbox-relay/runtime';
import { connectNats } from '@outbox-relay/outbox';
import { instrumentRequestListener, serveMetrics, ServiceMetrics, startTracing } from '@outbox-relay/telemetry';
import { loadSubscriberConfig, type SubscriberConfig } from './config';
import { consumerNameFor, startSubscriber } from './consumer';
import { SubscriberMetrics } from './metrics';

async function main(): Promise<void> {
  const config: SubscriberConfig = readConfigOrExit('subscriber', () => loadSubscriberConfig(process.env));
  // startSubscriber binds subscriberId and consumer to its own lines; the process's lines get the id here.
  const baseLogger = createLogger('subscriber', config.logLevel);
  const logger = baseLogger.child({ subscriberId: config.subscriberId });
  exitOnUncaught(logger);
  const tracing = startTracing(config.tracing, { logger });
  const metrics = new ServiceMetrics();
  const subscriberMetrics = new SubscriberMetrics(metrics.registry, consumerNameFor(config.subscriberId));
  const nc = await connectNats({ url: config.natsUrl, name: `subscriber-${config.subscriberId}`, logger });
  const subscriber = await startSubscriber({
    nc,
    stream: config.stream,
    subjectPrefix: config.subjectPrefix,
    subscriberId: config.subscriberId,
    filterSubject: config.filterSubject,
    duplicateWindowMs: config.duplicateWindowMs,
    nakDelayMs: config.nakDelayMs,
    maxAckPending: config.maxAckPending,
    logger: baseLogger,
    onOutcome: subscriberMetrics.delivered,
  });

  let server: http.Server | undefined;
  if (config.httpPort !== undefined) {
    const listener: http.RequestListener = (req, res) => {
      if (req.method === 'GET' && req.url === '/metrics') return serveMetrics(metrics, res);
      if (req.method === 'GET' && (req.url === '/healthz' || req.url === '/readyz')) {
        const ok = subscriber.state === 'consuming' && !nc.isClosed();
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: ok ? 'ok' : subscriber.state, subscriberId: config.subscriberId, consumer: subscriber.consumerName, processed: subscriber.processed }));
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'not found' }));
    };
    server = http.createServer(instrumentRequestListener(metrics.http, ['/healthz', '/readyz', '/metrics'], listener));
    const port = await listenHttp(server, config.httpPort, '0.0.0.0');
    logger.info({ port }, 'Health endpoint listening');
  }

  const shutdown = new ProcessShutdown({
    logger,
    timeoutMs: 10_000,
    stop: async () => {
      await subscriber.stop();
      server?.close();
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
