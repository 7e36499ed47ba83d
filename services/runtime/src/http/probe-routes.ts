import type { ServiceHttp } from './service-http';

/** What `/readyz` reports: ready, or why not; any other fields are added to the answer. */
export type Readiness = { ready: true; [field: string]: unknown } | { ready: false; reason: string; [field: string]: unknown };

/** The Prometheus exposition of a process (a prom-client registry wrapped by the telemetry package). */
export interface MetricsExposition {
  /** The metrics in the format the scraper's `Accept` header asks for (OpenMetrics or the classic text format). */
  render(accept: string | undefined): Promise<{ contentType: string; text: string }>;
}

export interface ProbeRoutes {
  /** Liveness: false answers 503 (restart me). Default: alive while the process answers at all. */
  live?: () => boolean;
  /** Fields added to the `/healthz` answer (the service's counters, its embedded relay's state). */
  healthDetails?: () => Record<string, unknown>;
  /** Readiness: started, not shutting down, dependencies answering. */
  readiness: () => Readiness | Promise<Readiness>;
  /** `/status`: the process's state for operators and tooling; leave out when it has none. */
  status?: () => unknown;
  /** `/metrics`; leave out to serve none. */
  metrics?: MetricsExposition;
}

/**
 * `/healthz`, `/readyz`, `/status` and `/metrics`: polled by probes and scrapers, so access-logged at debug level.
 * Liveness never touches dependencies (a database outage must not restart pods); readiness may.
 */
export function addProbeRoutes(http: ServiceHttp, probes: ProbeRoutes): void {
  http.route({
    url: '/healthz',
    quiet: true,
    GET: {
      handler: (_request, reply) => {
        let details: Record<string, unknown>;
        try {
          details = probes.healthDetails?.() ?? {};
        } catch (error) {
          details = { detailsError: (error as Error).message };
        }
        const live = probes.live?.() ?? true;
        return reply.code(live ? 200 : 503).send({ status: live ? 'ok' : 'failed', ...details });
      },
    },
  });
  http.route({
    url: '/readyz',
    quiet: true,
    GET: {
      handler: async (_request, reply) => {
        const { ready, ...rest } = await probes.readiness();
        return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', ...rest });
      },
    },
  });
  const { status, metrics } = probes;
  if (status) http.route({ url: '/status', quiet: true, GET: { handler: () => status() } });
  if (metrics) {
    http.route({
      url: '/metrics',
      quiet: true,
      GET: {
        handler: async (request, reply) => {
          // Caches must not answer an OpenMetrics scraper with the classic format, or the reverse.
          void reply.header('Vary', 'Accept');
          let exposition: { contentType: string; text: string };
          try {
            exposition = await metrics.render(request.headers.accept);
          } catch (error) {
            // The scrape shows as down, with the reason.
            return reply.code(500).type('text/plain; charset=utf-8').send(`cannot collect metrics: ${(error as Error)?.message ?? String(error)}\n`);
          }
          return reply.type(exposition.contentType).send(exposition.text);
        },
      },
    });
  }
}

/** Why `SELECT 1` did not answer within `timeoutMs`, or null when it did. */
export async function databaseProblem(pool: { query(sql: string): Promise<unknown> }, timeoutMs: number): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs)));
  const ping = pool.query('SELECT 1').then(
    () => null,
    (error: unknown) => (error as Error).message,
  );
  return Promise.race([ping, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The readiness of a process with a database: `isReady()` (started, not shutting down; else `notReadyReason`)
 * and `SELECT 1` answering within `timeoutMs`.
 */
export function databaseReadiness(options: {
  isReady: () => boolean;
  notReadyReason: string;
  pool: { query(sql: string): Promise<unknown> };
  timeoutMs: number;
}): () => Promise<Readiness> {
  return async () => {
    if (!options.isReady()) return { ready: false, reason: options.notReadyReason };
    const problem = await databaseProblem(options.pool, options.timeoutMs);
    return problem === null ? { ready: true } : { ready: false, reason: `database: ${problem}` };
  };
}
