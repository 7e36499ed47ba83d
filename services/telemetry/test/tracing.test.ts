/**
 * Tracing configuration from the standard OTEL_* variables, and the SDK start-up: spans of the libraries reach
 * the exporter, events written inside a span carry its trace context and W3C baggage (read back by consumers), and
 * shutdown turns everything off again.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { activeTraceHeaders, contextFromHeaders, outboxTracer } from '@outbox-relay/outbox';
import { ConfigError, parseEnv } from '@outbox-relay/runtime';
import { z } from 'zod';
import { startTracing, tracingEnvShape, tracingSettingsFromEnv } from '@outbox-relay/telemetry';

const schema = z.object(tracingEnvShape);
const settings = (env: Record<string, string>) => tracingSettingsFromEnv(parseEnv(schema, env), 'svc');

describe('tracing settings', () => {
  it('is off without an endpoint, when disabled, or with the none exporter', () => {
    expect(settings({})).toMatchObject({ enabled: false, reason: expect.stringContaining('OTEL_EXPORTER_OTLP_ENDPOINT') });
    expect(settings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'TRUE' })).toMatchObject({ enabled: false, reason: 'OTEL_SDK_DISABLED=true' });
    expect(settings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' })).toMatchObject({ enabled: false });
  });

  it('is on with an endpoint (general or traces-only) or the console exporter, named after OTEL_SERVICE_NAME', () => {
    expect(settings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toEqual({
      enabled: true,
      reason: 'exporting to otlp http/protobuf http://collector:4318',
      serviceName: 'svc',
    });
    expect(
      settings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_SERVICE_NAME: 'orders-eu' }),
    ).toEqual({ enabled: true, reason: 'exporting to otlp grpc http://c:4317', serviceName: 'orders-eu' });
    expect(settings({ OTEL_TRACES_EXPORTER: 'console' })).toMatchObject({ enabled: true, reason: 'exporting to console' });
  });

  it('names each bad variable', () => {
    let error: unknown;
    try {
      settings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'udp', OTEL_TRACES_EXPORTER: 'otlp,jaeger' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.path).sort()).toEqual([
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_EXPORTER_OTLP_PROTOCOL',
      'OTEL_TRACES_EXPORTER',
    ]);
  });
});

describe('startTracing', () => {
  it('off: loads nothing and leaves the API a no-op', async () => {
    const tracing = startTracing({ enabled: false, reason: 'test', serviceName: 'svc' });
    expect(tracing.enabled).toBe(false);
    const span = outboxTracer().startSpan('x');
    expect(span.isRecording()).toBe(false);
    span.end();
    await tracing.shutdown();
  });

  it('on: exports the libraries spans with the service name, propagates W3C context, and shutdown turns it off', async () => {
    const exporter = new InMemorySpanExporter();
    const processor = new SimpleSpanProcessor({ exporter });
    const tracing = startTracing({ enabled: true, reason: 'test', serviceName: 'telemetry-test' }, { spanProcessors: [processor] });
    expect(tracing.enabled).toBe(true);

    const parent = outboxTracer().startSpan('parent', { kind: SpanKind.SERVER });
    const headers = context.with(trace.setSpan(context.active(), parent), () => activeTraceHeaders());
    parent.end();
    const { traceId, spanId } = parent.spanContext();
    expect(headers.traceparent).toBe(`00-${traceId}-${spanId}-01`);

    // The context survives an await (AsyncLocalStorage context manager).
    await outboxTracer().startActiveSpan('child', async (child) => {
      await new Promise((r) => setImmediate(r));
      expect(trace.getActiveSpan()).toBe(child);
      child.end();
    });

    await processor.forceFlush(); // the processor exports each ended span asynchronously
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['parent', 'child']);
    expect(spans[0]!.resource.attributes['service.name']).toBe('telemetry-test');

    await tracing.shutdown();
    const after = outboxTracer().startSpan('after');
    expect(after.isRecording()).toBe(false);
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), parent), carrier);
    expect(carrier).toEqual({});
  });

  it('on: events carry the W3C baggage of their context next to its traceparent, and consumers read it back', async () => {
    const processor = new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() });
    const tracing = startTracing({ enabled: true, reason: 'test', serviceName: 'telemetry-test' }, { spanProcessors: [processor] });
    try {
      const span = outboxTracer().startSpan('writer');
      const baggage = propagation.createBaggage({ tenant: { value: 'acme' }, 'user id': { value: 'a b' } });
      const written = propagation.setBaggage(trace.setSpan(ROOT_CONTEXT, span), baggage);
      const headers = activeTraceHeaders(written);
      span.end();
      expect(headers).toEqual({ traceparent: expect.stringMatching(/^00-/), baggage: 'tenant=acme,user%20id=a%20b' });

      // The consumer's side: the message headers give back the writer's span context and baggage, with or without a traceparent.
      const read = contextFromHeaders({ ...headers });
      expect(trace.getSpanContext(read)?.spanId).toBe(span.spanContext().spanId);
      expect(propagation.getBaggage(read)?.getEntry('user id')?.value).toBe('a b');
      expect(propagation.getBaggage(contextFromHeaders({ baggage: 'tenant=acme' }))?.getEntry('tenant')?.value).toBe('acme');

      // Baggage longer than a header value may be keeps its first whole members only (an event is never refused for it).
      const big = propagation.createBaggage(Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, { value: 'v'.repeat(100) }])));
      const fitted = activeTraceHeaders(propagation.setBaggage(ROOT_CONTEXT, big)).baggage!;
      expect(fitted.length).toBeLessThanOrEqual(4096);
      expect(fitted.split(',').every((member) => /^k\d+=v{100}$/.test(member))).toBe(true);
      expect(fitted.split(',').length).toBeGreaterThan(30);
    } finally {
      await tracing.shutdown();
    }
  });
});
