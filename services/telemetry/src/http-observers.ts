import type { RequestObserver } from '@outbox-relay/runtime';
import { UNMATCHED_ROUTE, type HttpMetrics } from './http-metrics';
import { runInHttpServerSpan } from './http-tracing';

/**
 * What a process's HTTP server runs around each request: with `metrics`, its duration by method, route template
 * and status; with `tracing`, one SERVER span (a child of the caller's traceparent) the request is handled in, so
 * the order transaction and the event it writes join the request's trace. Tracing off: no span at all, not even
 * a no-op one.
 */
export function httpObservers(options: { metrics?: HttpMetrics | undefined; tracing: boolean }): RequestObserver[] {
  const observers: RequestObserver[] = [];
  const { metrics } = options;
  if (metrics) {
    observers.push((req, res, routeOf, next) => {
      metrics.track(req, res, () => routeOf() ?? UNMATCHED_ROUTE);
      next();
    });
  }
  if (options.tracing) observers.push(runInHttpServerSpan);
  return observers;
}
