import { Router } from 'express';
import type { Pool } from 'pg';

export interface HealthOptions {
  pool: Pool;
  /** False until start-up is complete and again from the moment shutdown begins. */
  isReady: () => boolean;
  /** Embedded relay state for operators and the demo; absent when the relay is disabled. */
  relayStatus?: () => unknown;
  readinessTimeoutMs: number;
}

/** Polled by probes and tooling: logged at debug level only. */
export const HEALTH_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/status']);

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

export function healthRouter(options: HealthOptions): Router {
  const router = Router();

  /** Liveness: the process answers. Never touches dependencies (a database outage must not restart pods). */
  router.get('/healthz', (_req, res) => {
    let relay: unknown = null;
    try {
      relay = options.relayStatus?.() ?? null;
    } catch (error) {
      relay = { error: (error as Error).message };
    }
    res.json({ status: 'ok', relay });
  });

  /** The embedded relay's state (instance id, leading, epoch per partition), as the stand-alone relay reports it. */
  router.get('/status', (_req, res) => {
    if (!options.relayStatus) {
      res.status(404).json({ error: 'not_found', message: 'the embedded relay is disabled (ORDERS_RELAY_ENABLED=false)' });
      return;
    }
    res.json(options.relayStatus());
  });

  /** Readiness: started, not shutting down, and the database answers. */
  router.get('/readyz', async (_req, res) => {
    if (!options.isReady()) {
      res.status(503).json({ status: 'unavailable', reason: 'not ready (starting or shutting down)' });
      return;
    }
    try {
      await pingDatabase(options.pool, options.readinessTimeoutMs);
    } catch (error) {
      res.status(503).json({ status: 'unavailable', reason: `database: ${(error as Error).message}` });
      return;
    }
    res.json({ status: 'ready' });
  });

  return router;
}
