import { context, propagation, ROOT_CONTEXT, trace, type Context, type Link, type TextMapGetter } from '@opentelemetry/api';
import { MAX_HEADER_VALUE_CHARS } from './write/event';

/**
 * Tracing through @opentelemetry/api only: with no SDK registered every call below is a no-op (nothing is
 * exported, nothing is injected), so a service that does not configure OpenTelemetry pays a few function calls.
 * The tracer is looked up per use so a provider registered after this module loaded is still picked up.
 */
export function outboxTracer() {
  return trace.getTracer('@outbox-relay/outbox');
}

/** The W3C headers an event carries of the context it was written in (trace context and baggage). */
export interface TraceHeaders {
  traceparent?: string;
  tracestate?: string;
  baggage?: string;
}

/**
 * W3C trace context and baggage of the active context, to store with an event written inside it, as the SDK's
 * propagators (by default `tracecontext,baggage`) write them. Empty when tracing is off. Baggage longer than a
 * header value may be (MAX_HEADER_VALUE_CHARS) loses its last members: baggage is best effort, and an event must
 * never be refused for it.
 */
export function activeTraceHeaders(active: Context = context.active()): TraceHeaders {
  const carrier: Record<string, string> = {};
  propagation.inject(active, carrier);
  const out: TraceHeaders = {};
  if (carrier.traceparent) out.traceparent = carrier.traceparent;
  if (carrier.tracestate) out.tracestate = carrier.tracestate;
  const baggage = carrier.baggage ? fitBaggage(carrier.baggage) : '';
  if (baggage) out.baggage = baggage;
  return out;
}

/** The longest prefix of whole list members (`k=v,k2=v2`) that fits in a header value. */
function fitBaggage(baggage: string): string {
  if (baggage.length <= MAX_HEADER_VALUE_CHARS) return baggage;
  const cut = baggage.lastIndexOf(',', MAX_HEADER_VALUE_CHARS);
  return cut > 0 ? baggage.slice(0, cut).trim() : '';
}

const headerGetter: TextMapGetter<Record<string, string | undefined>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key] ?? carrier[key.toLowerCase()],
};

/** The context an event's headers carry (its writer's trace and baggage), or the root context. */
export function contextFromHeaders(headers: Record<string, string | undefined>): Context {
  if (!headers.traceparent && !headers.baggage) return ROOT_CONTEXT;
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
