import type http from 'node:http';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type TextMapGetter } from '@opentelemetry/api';
import { methodLabel } from './http-metrics';

const requestHeaders: TextMapGetter<http.IncomingHttpHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key.toLowerCase()],
};

/**
 * Opens the SERVER span of one HTTP request, a child of the caller's `traceparent` when it sent one, and ends it
 * when the response finishes (or the client goes away), named `<METHOD> <route template>` from `routeOf()` at
 * that moment. Returns the context to run the request in. Without an SDK this is a few no-op calls.
 */
export function startHttpServerSpan(req: http.IncomingMessage, res: http.ServerResponse, routeOf: () => string | undefined): Context {
  const parent = propagation.extract(ROOT_CONTEXT, req.headers, requestHeaders);
  const method = methodLabel(req.method);
  const span = trace.getTracer('@outbox-relay/telemetry').startSpan(
    method,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': method,
        'url.path': (req.url ?? '/').split('?')[0] ?? '/',
        'network.protocol.version': req.httpVersion,
      },
    },
    parent,
  );
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    const route = routeOf();
    if (route !== undefined) {
      span.updateName(`${method} ${route}`);
      span.setAttribute('http.route', route);
    }
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    if (!res.writableFinished) span.setAttribute('http.aborted', true);
    span.end();
  };
  res.once('finish', end);
  res.once('close', end);
  return trace.setSpan(parent, span);
}

/**
 * Runs `next` (the rest of the request's handling) inside a new SERVER span (see startHttpServerSpan). The request
 * and response emitters are bound to that context too: body parsers resume in the stream's callbacks, which
 * would otherwise run outside it.
 */
export function runInHttpServerSpan(req: http.IncomingMessage, res: http.ServerResponse, routeOf: () => string | undefined, next: () => void): void {
  const active = startHttpServerSpan(req, res, routeOf);
  context.bind(active, req);
  context.bind(active, res);
  context.with(active, next);
}
