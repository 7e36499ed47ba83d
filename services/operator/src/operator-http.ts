import { addProbeRoutes, ServiceHttp, type ProcessLogger } from '@outbox-relay/runtime';
import { httpObservers } from '@outbox-relay/telemetry';
import type { OperatorMetrics } from './metrics';
import type { OperatorHealth } from './operator';

/** The operator process's one HTTP server: /healthz (liveness), /readyz (readiness, with whether it leads) and /metrics. */
export function createOperatorHttp(options: { logger: ProcessLogger; health: () => OperatorHealth; metrics: OperatorMetrics }): ServiceHttp {
  const http = new ServiceHttp({ logger: options.logger, observers: httpObservers({ metrics: options.metrics.service.http, tracing: false }) });
  addProbeRoutes(http, {
    live: () => options.health().live,
    readiness: () => {
      const { ready, leader } = options.health();
      return ready ? { ready: true, leader } : { ready: false, reason: 'not synced with the API server yet', leader };
    },
    metrics: options.metrics.service,
  });
  return http;
}
