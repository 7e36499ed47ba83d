import { addProbeRoutes, ServiceHttp, type MetricsExposition, type ProcessLogger, type RequestObserver } from '@outbox-relay/runtime';

export interface SubscriberHttpOptions {
  logger: ProcessLogger;
  /** Consuming on an open connection; states past it (stopped, failed) never come back. */
  consuming: () => boolean;
  details: () => Record<string, unknown>;
  metrics: MetricsExposition;
  observers?: readonly RequestObserver[];
}

/** The subscriber process's one HTTP server: /healthz and /readyz (consuming), /metrics. */
export function createSubscriberHttp(options: SubscriberHttpOptions): ServiceHttp {
  const http = new ServiceHttp({ logger: options.logger, observers: options.observers });
  addProbeRoutes(http, {
    live: options.consuming,
    healthDetails: options.details,
    readiness: () => (options.consuming() ? { ready: true, ...options.details() } : { ready: false, reason: 'not consuming', ...options.details() }),
    metrics: options.metrics,
  });
  return http;
}
