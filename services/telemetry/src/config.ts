import { z } from 'zod';

const OTLP_PROTOCOLS = ['grpc', 'http/protobuf', 'http/json'] as const;
const TRACES_EXPORTERS = ['otlp', 'console', 'none'] as const;

const url = z.string().regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL');

/** OpenTelemetry's boolean form: "true" (any case) is true; every other value is false, as the spec says. */
const otelBoolean = z
  .string()
  .default('false')
  .transform((v) => v.trim().toLowerCase() === 'true');

type TracesExporter = (typeof TRACES_EXPORTERS)[number];
const splitList = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const exporterList = z
  .string()
  .refine((v) => splitList(v).length > 0 && splitList(v).every((e) => (TRACES_EXPORTERS as readonly string[]).includes(e)), {
    message: `must be a comma-separated list of ${TRACES_EXPORTERS.join(', ')}`,
  })
  .transform((v) => splitList(v) as TracesExporter[]);

/**
 * The standard OpenTelemetry variables this project interprets, validated with the rest of a service's
 * configuration so a typo exits 2 like any other bad variable. The SDK reads the remaining standard ones itself
 * (OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, OTEL_RESOURCE_ATTRIBUTES, OTEL_PROPAGATORS, ...).
 */
export const tracingEnvShape = {
  OTEL_SDK_DISABLED: otelBoolean,
  OTEL_SERVICE_NAME: z.string().min(1).max(200).optional(),
  OTEL_TRACES_EXPORTER: exporterList.optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: url.optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url.optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(OTLP_PROTOCOLS).optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z.enum(OTLP_PROTOCOLS).optional(),
};

/** Settings of the Prometheus metrics (every service serves `/metrics` on its HTTP port). */
export const metricsEnvShape = {
  /** How long a backlog query result answers scrapes (see BacklogMetrics). */
  METRICS_BACKLOG_CACHE_MS: z.coerce.number().int().min(0).max(300_000).default(2000),
};

export const telemetryEnvShape = { ...tracingEnvShape, ...metricsEnvShape };

const tracingEnvSchema = z.object(tracingEnvShape);
export type TracingEnv = z.output<typeof tracingEnvSchema>;

export interface TracingSettings {
  enabled: boolean;
  /** Why tracing is on or off, for the start-up log line. */
  reason: string;
  serviceName: string;
}

/**
 * Tracing is on only when asked for: not disabled, an exporter other than "none", and somewhere to send spans
 * (an OTLP endpoint, or the console exporter). Off, the SDK is not even loaded.
 */
export function tracingSettingsFromEnv(env: TracingEnv, defaultServiceName: string): TracingSettings {
  const serviceName = env.OTEL_SERVICE_NAME ?? defaultServiceName;
  const off = (reason: string): TracingSettings => ({ enabled: false, reason, serviceName });
  if (env.OTEL_SDK_DISABLED) return off('OTEL_SDK_DISABLED=true');
  const exporters = env.OTEL_TRACES_EXPORTER ?? ['otlp'];
  if (exporters.includes('none')) return off('OTEL_TRACES_EXPORTER=none');
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (exporters.includes('otlp') && endpoint === undefined) {
    if (!exporters.includes('console')) return off('no OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  }
  const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  const targets = exporters.map((e) => (e === 'otlp' ? `otlp ${protocol} ${endpoint ?? '(no endpoint)'}` : e));
  return { enabled: true, reason: `exporting to ${targets.join(', ')}`, serviceName };
}
