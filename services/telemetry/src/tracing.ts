import { context, propagation, trace } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Logger } from '@outbox-relay/runtime';
import type { TracingSettings } from './config';

export interface Tracing {
  readonly enabled: boolean;
  /** Exports the spans still buffered and unregisters the SDK. Call it last in a graceful shutdown. */
  shutdown(): Promise<void>;
}

export interface StartTracingOptions {
  logger?: Logger;
  /** Replace the exporters chosen by OTEL_TRACES_EXPORTER (tests pass a SimpleSpanProcessor + in-memory exporter). */
  spanProcessors?: SpanProcessor[];
}

const OFF: Tracing = { enabled: false, shutdown: async () => undefined };

/**
 * Starts the OpenTelemetry SDK (tracing only; metrics go to Prometheus and logs to stdout) when `settings` says
 * so. Call it first in main, before connections open. Off, the SDK is never loaded: the libraries' spans go to
 * @opentelemetry/api's no-op tracer and nothing is injected into events.
 *
 * HTTP server spans come from this project's own middleware rather than module patching, so nothing has to load
 * before the modules it would patch.
 */
export function startTracing(settings: TracingSettings, options: StartTracingOptions = {}): Tracing {
  if (!settings.enabled) {
    options.logger?.info({ tracing: false, reason: settings.reason }, 'tracing off');
    return OFF;
  }
  // Loaded only now, so a service without tracing does not pay for the SDK's modules.
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const sdk = new NodeSDK({
    serviceName: settings.serviceName,
    instrumentations: [],
    // Prometheus (prom-client) serves the metrics and pino writes the logs: no OTLP metric or log exporters.
    metricReaders: [],
    logRecordProcessors: [],
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
  });
  sdk.start();
  options.logger?.info({ tracing: true, serviceName: settings.serviceName, reason: settings.reason }, 'tracing on');
  let stopped: Promise<void> | undefined;
  return {
    enabled: true,
    shutdown() {
      stopped ??= sdk
        .shutdown()
        .catch((error: unknown) => options.logger?.warn({ err: error }, 'tracing: flushing spans at shutdown failed'))
        .finally(() => {
          trace.disable();
          propagation.disable();
          context.disable();
        });
      return stopped;
    },
  };
}
