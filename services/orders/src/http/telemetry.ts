import type { Request, RequestHandler } from 'express';
import { runInHttpServerSpan, UNMATCHED_ROUTE, type HttpMetrics } from '@outbox-relay/telemetry';

/** The route template that served `req` (`/orders/:id`), never its path: paths carry ids, labels must stay bounded. */
function routeTemplate(req: Request): string | undefined {
  const path: unknown = req.route?.path;
  return typeof path === 'string' ? `${req.baseUrl}${path}` : undefined;
}

/**
 * First middleware of the app: with `tracing`, one SERVER span per request (a child of the caller's traceparent, if any) that
 * the handlers run in — so the order transaction and the event it writes join the request's trace — and, with
 * `metrics`, the request duration by method, route template and status.
 */
export function httpTelemetry(metrics: HttpMetrics | undefined, tracing = true): RequestHandler {
  return (req, res, next) => {
    metrics?.track(req, res, () => routeTemplate(req) ?? UNMATCHED_ROUTE);
    // Tracing off: no span, not even a no-op one (its listeners and closures were measurable per request).
    if (tracing) runInHttpServerSpan(req, res, () => routeTemplate(req), next);
    else next();
  };
}
