import type http from 'node:http';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Outbox } from '@outbox-relay/outbox';
import { serveMetrics, type ServiceMetrics } from '@outbox-relay/telemetry';
import { OrderRepository } from '../data/order-repository';
import { OrderService, type OrderWriteBatching } from '../service/order-service';
import { methodNotAllowed, notFound, sendError } from './errors';
import { healthRoutes } from './health-routes';
import { ordersRoutes } from './orders-routes';
import { openRequestContext } from './request-context';
import type { Route } from './route';
import { observeRequest } from './telemetry';

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

/** The order service's HTTP API as a node:http request listener. */
export type OrdersHttpHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const ORDER_BY_ID = '/orders/';

/**
 * The order service's HTTP API (see README): POST /orders, GET /orders/:id, /healthz, /readyz, /status, /metrics.
 * Plain node:http with a fixed route table: at this API's size a framework's per-request machinery (about 85 µs
 * per request here, `scripts/bench/http-floor.ts`) was a third of the service's CPU per order.
 * Paths match case-insensitively and with or without one trailing slash; unknown paths are 404, other methods
 * on an order path 405 with `Allow`; every error is a JSON body with the request's correlation id.
 */
export function createApp(options: AppOptions): OrdersHttpHandler {
  const service = new OrderService({
    pool: options.pool,
    outbox: options.outbox,
    repository: new OrderRepository(options.ordersSchema),
    writeBatching: options.writeBatching,
  });
  const metrics = options.metrics;
  const routes: Route[] = [
    ...ordersRoutes(service, options.bodyLimitBytes ?? 64 * 1024),
    ...healthRoutes({
      pool: options.pool,
      isReady: options.isReady,
      relayStatus: options.relayStatus,
      readinessTimeoutMs: options.readinessTimeoutMs ?? 2000,
    }),
  ];
  if (metrics) routes.push({ template: '/metrics', quiet: true, methods: { GET: ({ res }) => serveMetrics(metrics, res) } });
  const exact = new Map(routes.filter((r) => !r.template.includes(':')).map((r) => [r.template, r]));
  const byId = routes.find((r) => r.template === `${ORDER_BY_ID}:id`);

  const match = (path: string): { route: Route; id?: string } | undefined => {
    const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    const lower = trimmed.toLowerCase();
    const route = exact.get(lower);
    if (route) return { route };
    if (byId && lower.startsWith(ORDER_BY_ID)) {
      const segment = trimmed.slice(ORDER_BY_ID.length);
      if (segment.length > 0 && !segment.includes('/')) return { route: byId, id: decodeSegment(segment) };
    }
    return undefined;
  };

  const dispatch = async (req: http.IncomingMessage, res: http.ServerResponse, path: string, found: ReturnType<typeof match>) => {
    const ctx = openRequestContext(req, res, options.logger, found?.route.quiet ?? false);
    try {
      if (!found) throw notFound(req.method, path);
      const handler = found.route.methods[req.method === 'HEAD' ? 'GET' : (req.method as 'GET' | 'POST')];
      if (!handler) throw found.route.allow ? methodNotAllowed(req.method, found.route.allow) : notFound(req.method, path);
      await handler({ req, res, ctx, ...(found.id !== undefined ? { id: found.id } : {}) });
    } catch (error) {
      sendError(req, res, error, ctx.log, ctx.correlationId);
    }
  };

  const observe = { metrics: metrics?.http, tracing: options.tracing ?? true };
  return (req, res) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const found = match(path);
    observeRequest(req, res, found?.route.template, observe, () => void dispatch(req, res, path, found));
  };
}

/** A path segment URL-decoded; one that does not decode is kept as sent (and then fails validation). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
