import type http from 'node:http';
import { runInHttpServerSpan, UNMATCHED_ROUTE, type HttpMetrics } from '@outbox-relay/telemetry';

/**
 * Around each request: with `metrics`, its duration by method, route template (never the path: paths carry ids,
 * labels must stay bounded) and status; with `tracing`, one SERVER span (a child of the caller's traceparent, if
 * any) that `handle` runs in, so the order transaction and the event it writes join the request's trace. Tracing
 * off, no span at all, not even a no-op one.
 */
export function observeRequest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  template: string | undefined,
  options: { metrics: HttpMetrics | undefined; tracing: boolean },
  handle: () => void,
): void {
  options.metrics?.track(req, res, () => template ?? UNMATCHED_ROUTE);
  if (options.tracing) runInHttpServerSpan(req, res, () => template, handle);
  else handle();
}
