/**
 * The subscriber process: one durable JetStream consumer per SUBSCRIBER_ID, one JSON log line per event.
 * Exit codes: 0 after a graceful stop, 1 on a runtime failure, 2 on invalid configuration.
 */
import http from 'node:http';
import { ConfigError, createLogger } from '@outbox-relay/outbox';
import { instrumentRequestListener, serveMetrics, ServiceMetrics, startTracing } from '@outbox-relay/telemetry';
import { loadSubscriberConfig, type SubscriberConfig } from './config';
import { consumerNameFor, startSubscriber } from './consumer';
import { SubscriberMetrics } from './metrics';
import { connectNats } from './nats';

function readConfig(): SubscriberConfig {
  try {
    return loadSubscriberConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`subscriber: ${error.message}\n`);
      for (const issue of error.issues) process.stderr.write(`  ${issue.path}: ${issue.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  // startSubscriber binds subscriberId and consumer to its own lines; the process's lines get the id here.
  const baseLogger = createLogger('subscriber', config.logLevel);
  const logger = baseLogger.child({ subscriberId: config.subscriberId });
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
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(config.httpPort, '0.0.0.0', () => resolve());
    });
    const address = server.address();
    logger.info({ port: typeof address === 'object' && address ? address.port : config.httpPort }, 'Health endpoint listening');
  }

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'Shutting down');
    const force = setTimeout(() => {
      logger.error('Graceful shutdown took longer than 10 s; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    try {
      await subscriber.stop();
      server?.close();
      await nc.drain();
      await tracing.shutdown();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'Error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  subscriber.done.then(
    () => {
      if (!shuttingDown) {
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
    if (!shuttingDown) {
      logger.error({ err: error }, 'NATS connection closed');
      process.exit(1);
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`subscriber: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
