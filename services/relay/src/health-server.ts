import http from 'node:http';
import type { RelayStatus } from '@outbox-relay/outbox';
import { instrumentRequestListener, serveMetrics, type ServiceMetrics } from '@outbox-relay/telemetry';

export interface HealthServerOptions {
  status: () => RelayStatus;
  isReady: () => boolean;
  /** Graceful switchover: finish in-flight batches and release every lease held; resolves with what was released. */
  stepDown: () => Promise<Array<{ partition: number; epoch: number }>>;
  /** The process's Prometheus registry, served on `/metrics`; every request is also timed in it. */
  metrics?: ServiceMetrics;
}

const ROUTES = ['/healthz', '/readyz', '/status', '/step-down', '/metrics'];

/**
 * Health endpoints of the relay process: `/healthz` (alive), `/readyz` (started and not shutting down),
 * `/status` (leader and epoch per partition, read by operators and the demo), and `POST /step-down` (used by
 * the operator for a switchover; answers once the leases are released), and `/metrics` (Prometheus).
 */
export function createHealthServer(options: HealthServerOptions): http.Server {
  const metrics = options.metrics;
  const listener: http.RequestListener = (req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/step-down') {
      if (req.method !== 'POST') return send(405, { error: 'method_not_allowed', allow: 'POST' });
      options.stepDown().then(
        (released) => send(202, { released }),
        (error: unknown) => send(500, { error: 'step_down_failed', message: (error as Error).message }),
      );
      return;
    }
    if (req.method !== 'GET') return send(405, { error: 'method_not_allowed' });
    switch (req.url) {
      case '/healthz':
        return send(200, { status: 'ok' });
      case '/readyz':
        return options.isReady() ? send(200, { status: 'ready' }) : send(503, { status: 'not_ready' });
      case '/status':
        return send(200, options.status());
      case '/metrics':
        return metrics ? serveMetrics(metrics, res) : send(404, { error: 'not_found' });
      default:
        return send(404, { error: 'not_found' });
    }
  };
  return http.createServer(metrics ? instrumentRequestListener(metrics.http, ROUTES, listener) : listener);
}

