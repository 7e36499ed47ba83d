import type { RelayStatus } from '@outbox-relay/outbox';
import { addProbeRoutes, HttpError, ServiceHttp, type MetricsExposition, type RequestObserver } from '@outbox-relay/runtime';
import type { Logger } from 'pino';
import { ADMIN_TOKEN_SETTINGS, type AdminToken } from './admin-token';

export interface RelayHttpOptions {
  logger: Logger;
  status: () => RelayStatus;
  isReady: () => boolean;
  /** Graceful switchover: finish in-flight batches and release every lease held; resolves with what was released. */
  stepDown: () => Promise<Array<{ partition: number; epoch: number }>>;
  /** Required as `Authorization: Bearer <token>` by POST /step-down; undefined: the endpoint is refused (403). */
  adminToken: AdminToken | undefined;
  metrics?: MetricsExposition;
  observers?: readonly RequestObserver[];
}

/**
 * The relay process's one HTTP server: `/healthz` (alive), `/readyz` (started and not shutting down), `/status`
 * (leader and epoch per partition, read by the operator and the demo), `POST /step-down` (the operator's
 * switchover; answers once the leases are released) and `/metrics`. The port is reachable through the relay's
 * Service, so `/step-down` takes the admin token, and with none configured it is closed.
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
        if (!options.adminToken) {
          throw new HttpError(403, { error: 'step_down_disabled', message: `POST /step-down is disabled: set ${ADMIN_TOKEN_SETTINGS} to enable it` });
        }
        if (!options.adminToken.accepts(request.headers.authorization)) {
          throw new HttpError(401, { error: 'unauthorized', message: 'POST /step-down needs Authorization: Bearer <the admin token>' }, { 'WWW-Authenticate': 'Bearer' });
        }
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
