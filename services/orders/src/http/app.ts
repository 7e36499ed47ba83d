import express, { type Express } from 'express';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Outbox } from '@outbox-relay/outbox';
import { serveMetrics, type ServiceMetrics } from '@outbox-relay/telemetry';
import { OrderRepository } from '../data/order-repository';
import { OrderService, type OrderWriteBatching } from '../service/order-service';
import { errorHandler, notFound } from './errors';
import { HEALTH_PATHS, healthRouter } from './health-routes';
import { ordersRouter } from './orders-routes';
import { requestContext } from './request-context';
import { httpTelemetry } from './telemetry';

export interface AppOptions {
  pool: Pool;
  outbox: Outbox;
  ordersSchema: string;
  logger: Logger;
  /** Readiness gate: false while starting and from the moment shutdown begins. */
  isReady: () => boolean;
  /** Largest accepted request body. Default 64 KiB. */
  bodyLimitBytes?: number;
  /** Embedded relay state, reported by `/status` and `/healthz`; leave out when the relay is disabled. */
  relayStatus?: () => unknown;
  /** How long `/readyz` waits for `SELECT 1`. Default 2000 ms. */
  readinessTimeoutMs?: number;
  /** The process's Prometheus registry: served on `GET /metrics`, and every request is timed in it. */
  metrics?: ServiceMetrics;
  /**
   * Open a SERVER span per request (default true). main passes whether the OpenTelemetry SDK was started, so a
   * service without tracing skips even the no-op span.
   */
  tracing?: boolean;
  /** How concurrent creates share statements. Default `DEFAULT_WRITE_BATCHING`. */
  writeBatching?: OrderWriteBatching;
}

/** The order service's HTTP API (see README): POST /orders, GET /orders/:id, /healthz, /readyz, /status, /metrics. */
export function createApp(options: AppOptions): Express {
  const service = new OrderService({
    pool: options.pool,
    outbox: options.outbox,
    repository: new OrderRepository(options.ordersSchema),
    writeBatching: options.writeBatching,
  });
  const app = express();
  app.disable('x-powered-by');
  app.use(httpTelemetry(options.metrics?.http, options.tracing ?? true));
  app.use(requestContext(options.logger, new Set([...HEALTH_PATHS, '/metrics'])));
  // The busy routes first: express walks the layers in order for every request.
  app.use(ordersRouter(service, options.bodyLimitBytes ?? 64 * 1024));
  const metrics = options.metrics;
  if (metrics) app.get('/metrics', (_req, res) => serveMetrics(metrics, res));
  app.use(
    healthRouter({
      pool: options.pool,
      isReady: options.isReady,
      relayStatus: options.relayStatus,
      readinessTimeoutMs: options.readinessTimeoutMs ?? 2000,
    }),
  );
  app.use(notFound);
  app.use(errorHandler(options.logger));
  return app;
}
