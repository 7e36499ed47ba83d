import type { RelayStatus } from '@outbox-relay/outbox';
import { addProbeRoutes, HttpError, ServiceHttp, type MetricsExposition, type RequestObserver } from '@outbox-relay/runtime';
import type { Logger } from 'pino';

export interface RelayHttpOptions {
  logger: Logger;
  status: () => RelayStatus;
  isReady: () => boolean;
  /** Graceful switchover: finish in-flight batches and release every lease held; resolves with what was released. */
  stepDown: () => Promise<Array<{ partition: number; epoch: number }>>;
  metrics?: MetricsExposition;
  observers?: readonly RequestObserver[];
}

/**
 * The relay process's one HTTP server: `/healthz` (alive), `/readyz` (started and not shutting down), `/status`
 * (leader and epoch per partition, read by the operator and the demo), `POST /step-down` (the operator's
 * switchover; answers once the leases are released) and `/metrics`.
 */
export function createRelayHttp(options: RelayHttpOptions): ServiceHttp {
  const http = new ServiceHttp({ logger: options.logger, observers: options.observers });
  addProbeRoutes(http, {
    readiness: () => (options.isReady() ? { ready: true } : { ready: false, reason: 'not started or shutting down' }),
    status: options.status,
    metrics: options.metrics,
  });
  http.route({
    url: '/step-down',
    POST: {
      handler: async (request, reply) => {
        let released: Array<{ partition: number; epoch: number }>;
        try {
          released = await options.stepDown();
        } catch (error) {
          throw new HttpError(500, { error: 'step_down_failed', message: (error as Error).message });
        }
        request.requestContext.logFields.released = released;
        return reply.code(202).send({ released });
      },
    },
  });
  return http;
}
