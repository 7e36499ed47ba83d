import type http from 'node:http';
import { Histogram, type Registry } from 'prom-client';
import { LATENCY_SECONDS_BUCKETS } from './buckets';

/** Methods kept as label values; anything else a client sends is counted as OTHER (labels must stay bounded). */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export function methodLabel(method: string | undefined): string {
  const upper = (method ?? '').toUpperCase();
  return KNOWN_METHODS.has(upper) ? upper : 'OTHER';
}

/** Route label of a request that matched no route (never the raw path: paths carry ids). */
export const UNMATCHED_ROUTE = 'unmatched';

/** `http_server_request_duration_seconds{method, route, status_code}`; `route` is a template such as /orders/:id. */
export class HttpMetrics {
  private readonly duration: Histogram<'method' | 'route' | 'status_code'>;

  constructor(registry: Registry) {
    this.duration = new Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'Duration of HTTP requests served, by method, route template and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: LATENCY_SECONDS_BUCKETS,
      registers: [registry],
    });
  }

  observe(method: string | undefined, route: string, statusCode: number, seconds: number): void {
    this.duration.observe({ method: methodLabel(method), route, status_code: String(statusCode) }, seconds);
  }

  /**
   * Times `res` from now until it finishes (or the client goes away) and records it under the route `routeOf()`
   * names at that moment (routers only know the template once they matched).
   */
  track(req: http.IncomingMessage, res: http.ServerResponse, routeOf: () => string): void {
    const started = process.hrtime.bigint();
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      this.observe(req.method, routeOf(), res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
    };
    res.once('finish', record);
    res.once('close', record);
  }
}
