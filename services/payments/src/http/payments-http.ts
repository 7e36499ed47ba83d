import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { addProbeRoutes, databaseReadiness, ServiceHttp, validationFailed, type MetricsExposition, type RequestObserver } from '@outbox-relay/runtime';
import { validateFakeSettings, type FakePaymentGateway } from '../gateway/fake-gateway';

export interface PaymentsHttpOptions {
  pool: Pool;
  logger: Logger;
  /** Consuming and not shutting down. */
  isReady: () => boolean;
  stats: () => object | null;
  relayStatus: (() => unknown) | undefined;
  /** Present only when PAYMENTS_GATEWAY=fake: enables `/admin/fake-gateway`. */
  fakeGateway: FakePaymentGateway | undefined;
  metrics?: MetricsExposition;
  observers?: readonly RequestObserver[];
}

/** The admin endpoint's bodies are a few settings. */
const ADMIN_BODY_LIMIT = 4096;
const FAKE_SETTINGS = ['failing', 'successRate', 'latencyMs'];

/**
 * The payment worker's one HTTP server: `/healthz` (with the worker's counters and its embedded relay's state),
 * `/readyz` (consuming, and the database answers), `/metrics`, and with the fake gateway `/admin/fake-gateway`.
 */
export function createPaymentsHttp(options: PaymentsHttpOptions): ServiceHttp {
  const http = new ServiceHttp({ logger: options.logger, observers: options.observers, bodyLimitBytes: ADMIN_BODY_LIMIT });
  addProbeRoutes(http, {
    healthDetails: () => ({ stats: options.stats(), relay: options.relayStatus?.() ?? null }),
    readiness: databaseReadiness({ isReady: options.isReady, notReadyReason: 'not consuming (starting or shutting down)', pool: options.pool, timeoutMs: 2000 }),
    metrics: options.metrics,
  });
  const gateway = options.fakeGateway;
  if (gateway) {
    /**
     * GET shows the fake's settings; PUT `{"failing": true}` forces every new charge to fail, `{"failing": false}`
     * recovers; `successRate` and `latencyMs` may be changed the same way.
     */
    http.route({
      url: '/admin/fake-gateway',
      GET: { handler: () => gateway.settings() },
      PUT: {
        handler: (request) => {
          const body = request.body ?? {};
          if (typeof body !== 'object' || body === null || Array.isArray(body)) {
            throw validationFailed([{ path: '(root)', message: 'must be a JSON object' }]);
          }
          const patch = body as Record<string, unknown>;
          const issues = validateFakeSettings(patch);
          for (const key of Object.keys(patch)) {
            if (!FAKE_SETTINGS.includes(key)) issues.push({ path: key, message: 'is not a setting of the fake gateway' });
          }
          if (issues.length > 0) throw validationFailed(issues);
          return gateway.configure(patch);
        },
      },
    });
  }
  return http;
}
