import type { Pool } from 'pg';
import { sendJson } from './respond';
import type { Route } from './route';

export interface HealthOptions {
  pool: Pool;
  /** False until start-up is complete and again from the moment shutdown begins. */
  isReady: () => boolean;
  /** Embedded relay state for operators and the demo; absent when the relay is disabled. */
  relayStatus?: () => unknown;
  readinessTimeoutMs: number;
}

/** Resolves when `SELECT 1` answers within the timeout. */
async function pingDatabase(pool: Pool, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([pool.query('SELECT 1'), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** /healthz, /status and /readyz: polled by probes and tooling, so access-logged at debug level only. */
export function healthRoutes(options: HealthOptions): Route[] {
  return [
    {
      template: '/healthz',
      quiet: true,
      methods: {
        /** Liveness: the process answers. Never touches dependencies (a database outage must not restart pods). */
        GET: ({ req, res }) => {
          let relay: unknown = null;
          try {
            relay = options.relayStatus?.() ?? null;
          } catch (error) {
            relay = { error: (error as Error).message };
          }
          sendJson(req, res, 200, { status: 'ok', relay });
        },
      },
    },
    {
      template: '/status',
      quiet: true,
      methods: {
        /** The embedded relay's state (instance id, leading, epoch per partition), as the stand-alone relay reports it. */
        GET: ({ req, res }) => {
          if (!options.relayStatus) {
            sendJson(req, res, 404, { error: 'not_found', message: 'the embedded relay is disabled (ORDERS_RELAY_ENABLED=false)' });
            return;
          }
          sendJson(req, res, 200, options.relayStatus());
        },
      },
    },
    {
      template: '/readyz',
      quiet: true,
      methods: {
        /** Readiness: started, not shutting down, and the database answers. */
        GET: async ({ req, res }) => {
          if (!options.isReady()) {
            sendJson(req, res, 503, { status: 'unavailable', reason: 'not ready (starting or shutting down)' });
            return;
          }
          try {
            await pingDatabase(options.pool, options.readinessTimeoutMs);
          } catch (error) {
            sendJson(req, res, 503, { status: 'unavailable', reason: `database: ${(error as Error).message}` });
            return;
          }
          sendJson(req, res, 200, { status: 'ready' });
        },
      },
    },
  ];
}
