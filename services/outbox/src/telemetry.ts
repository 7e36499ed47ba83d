import { context, propagation, ROOT_CONTEXT, trace, type Context, type Link, type TextMapGetter } from '@opentelemetry/api';

/**
 * Tracing through @opentelemetry/api only: with no SDK registered every call below is a no-op (nothing is
 * exported, nothing is injected), so a service that does not configure OpenTelemetry pays a few function calls.
 * The tracer is looked up per use so a provider registered after this module loaded is still picked up.
 */
export function outboxTracer() {
  return trace.getTracer('@outbox-relay/outbox');
}

/** W3C trace context of the active span, to store with an event written inside it. Empty when none. */
export function activeTraceHeaders(active: Context = context.active()): { traceparent?: string; tracestate?: string } {
  const carrier: Record<string, string> = {};
  propagation.inject(active, carrier);
  const out: { traceparent?: string; tracestate?: string } = {};
  if (carrier.traceparent) out.traceparent = carrier.traceparent;
  if (carrier.tracestate) out.tracestate = carrier.tracestate;
  return out;
}

const headerGetter: TextMapGetter<Record<string, string | undefined>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key] ?? carrier[key.toLowerCase()],
};

/** The context an event's headers carry (its writer's trace), or the root context. */
export function contextFromHeaders(headers: Record<string, string | undefined>): Context {
  if (!headers.traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, headers, headerGetter);
}

/** Links from a span to the traces that wrote `events` (at most `max`, the first ones). */
export function linksTo(events: ReadonlyArray<{ headers: Record<string, string> }>, max = 128): Link[] {
  const links: Link[] = [];
  for (const event of events) {
    if (links.length >= max) break;
    if (!event.headers.traceparent) continue;
    const spanContext = trace.getSpanContext(contextFromHeaders(event.headers));
    if (spanContext) links.push({ context: spanContext });
  }
  return links;
}
