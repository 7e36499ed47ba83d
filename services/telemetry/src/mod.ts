// Public entry of @outbox-relay/telemetry: one Prometheus registry per process, the metrics of the relay, the
// outbox backlog and inbox consumers, HTTP metrics and server spans, and the OpenTelemetry SDK start-up.
// The logger every option named `logger` accepts: any pino-compatible logger, or `console` (the runtime's, passed on).
export type { Logger } from '@outbox-relay/runtime';
export { ServiceMetrics, type ServiceMetricsOptions } from './registry';
export { readBuildInfo, type BuildInfo } from './build-info';
export { prefersOpenMetrics } from './exposition';
export { HttpMetrics, methodLabel, UNMATCHED_ROUTE } from './http-metrics';
export { RelayMetrics, RELAY_STAGES, type RelayMetricsOptions, type PartitionLeadership } from './relay-metrics';
export { BacklogMetrics, type BacklogMetricsOptions } from './backlog-metrics';
export { InboxMetrics, type InboxCounts } from './inbox-metrics';
export { SnapshotCounter } from './snapshot-counter';
export { LATENCY_SECONDS_BUCKETS, BATCH_SIZE_BUCKETS, STAGE_SECONDS_BUCKETS } from './buckets';
export { startHttpServerSpan, runInHttpServerSpan, httpServerAttributes } from './http-tracing';
export { httpObservers } from './http-observers';
export { startTracing, type Tracing, type StartTracingOptions } from './tracing';
export {
  telemetryEnvShape,
  tracingEnvShape,
  metricsEnvShape,
  tracingSettingsFromEnv,
  type TracingEnv,
  type TracingSettings,
} from './config';
// prom-client's metric types, so services define their own few metrics on the same registry without a direct dependency.
export { Counter, Gauge, Histogram, type Registry } from 'prom-client';
