import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Outbox } from '@outbox-relay/outbox';
import { addProbeRoutes, databaseReadiness, HttpError, ServiceHttp, type MetricsExposition, type RequestObserver } from '@outbox-relay/runtime';
import { OrderRepository } from '../data/order-repository';
import { OrderService, type OrderWriteBatching } from '../service/order-service';
import { databaseUnavailableAs503 } from './errors';
import { addOrdersRoutes } from './orders-routes';

export interface OrdersHttpOptions {
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
  /** Served on `GET /metrics`. */
  metrics?: MetricsExposition;
  /** Around every request: the metrics timer and the trace span (see the telemetry package's `httpObservers`). */
  observers?: readonly RequestObserver[];
  /** How concurrent creates share statements. Default `DEFAULT_WRITE_BATCHING`. */
  writeBatching?: OrderWriteBatching;
}

/** The order service's one HTTP server (see README): POST /orders, GET /orders/:id, /healthz, /readyz, /status, /metrics. */
export function createOrdersHttp(options: OrdersHttpOptions): ServiceHttp {
  const service = new OrderService({
    pool: options.pool,
    outbox: options.outbox,
    repository: new OrderRepository(options.ordersSchema),
    writeBatching: options.writeBatching,
  });
  const http = new ServiceHttp({
    logger: options.logger,
    bodyLimitBytes: options.bodyLimitBytes,
    observers: options.observers,
    translateError: databaseUnavailableAs503,
  });
  addOrdersRoutes(http, service);
  const { relayStatus } = options;
  addProbeRoutes(http, {
    healthDetails: () => ({ relay: relayStatus?.() ?? null }),
    readiness: databaseReadiness({
      isReady: options.isReady,
      notReadyReason: 'not ready (starting or shutting down)',
      pool: options.pool,
      timeoutMs: options.readinessTimeoutMs ?? 2000,
    }),
    status: () => {
      if (!relayStatus) {
        throw new HttpError(404, { error: 'not_found', message: 'the embedded relay is disabled (ORDERS_RELAY_ENABLED=false)' });
      }
      return relayStatus();
    },
    metrics: options.metrics,
  });
  return http;
}
