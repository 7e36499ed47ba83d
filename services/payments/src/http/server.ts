import http from 'node:http';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { instrumentRequestListener, serveMetrics, type ServiceMetrics } from '@outbox-relay/telemetry';
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
  /** The process's Prometheus registry: served on `GET /metrics`, and every request is timed in it. */
  metrics?: ServiceMetrics;
}

const ROUTES = ['/healthz', '/readyz', '/metrics', '/admin/fake-gateway'];

const BODY_LIMIT = 4096;

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > BODY_LIMIT) reject(new Error(`body larger than ${BODY_LIMIT} bytes`));
    });
    req.on('end', () => {
      try {
        resolve(text === '' ? {} : JSON.parse(text));
      } catch {
        reject(new Error('body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

async function pingDatabase(pool: Pool): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('no answer within 2000 ms'), 2000)));
  const ping = pool.query('SELECT 1').then(
    () => null,
    (error: unknown) => (error as Error).message,
  );
  return Promise.race([ping, timeout]).finally(() => clearTimeout(timer));
}

/**
 * `/admin/fake-gateway`: GET shows the fake's settings; PUT `{"failing": true}` forces every new charge to
 * fail, `{"failing": false}` recovers; `successRate` and `latencyMs` may be changed the same way.
 */
async function fakeGatewayAdmin(req: http.IncomingMessage, res: http.ServerResponse, gateway: FakePaymentGateway): Promise<void> {
  if (req.method === 'GET') return send(res, 200, gateway.settings());
  if (req.method !== 'PUT') {
    res.setHeader('Allow', 'GET, PUT');
    return send(res, 405, { error: 'method_not_allowed' });
  }
  let body: unknown;
  try {
    body = await readJson(req);
  } catch (error) {
    return send(res, 400, { error: 'malformed_json', message: (error as Error).message });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return send(res, 400, { error: 'validation_failed', issues: [{ path: '(root)', message: 'must be a JSON object' }] });
  }
  const patch = body as Record<string, unknown>;
  const issues = validateFakeSettings(patch);
  for (const key of Object.keys(patch)) {
    if (!['failing', 'successRate', 'latencyMs'].includes(key)) issues.push({ path: key, message: 'is not a setting of the fake gateway' });
  }
  if (issues.length > 0) return send(res, 400, { error: 'validation_failed', issues });
  return send(res, 200, gateway.configure(patch));
}

export function createPaymentsServer(options: PaymentsHttpOptions): http.Server {
  const metrics = options.metrics;
  const listener: http.RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    void (async () => {
      if (path === '/metrics' && req.method === 'GET' && metrics) return serveMetrics(metrics, res);
      if (path === '/healthz' && req.method === 'GET') {
        return send(res, 200, { status: 'ok', stats: options.stats(), relay: options.relayStatus?.() ?? null });
      }
      if (path === '/readyz' && req.method === 'GET') {
        if (!options.isReady()) return send(res, 503, { status: 'unavailable', reason: 'not consuming (starting or shutting down)' });
        const problem = await pingDatabase(options.pool);
        return problem ? send(res, 503, { status: 'unavailable', reason: `database: ${problem}` }) : send(res, 200, { status: 'ready' });
      }
      if (path === '/admin/fake-gateway' && options.fakeGateway) return fakeGatewayAdmin(req, res, options.fakeGateway);
      return send(res, 404, { error: 'not_found' });
    })().catch((error: unknown) => {
      options.logger.error({ err: error, path }, 'http request failed');
      if (!res.headersSent) send(res, 500, { error: 'internal' });
    });
  };
  return http.createServer(metrics ? instrumentRequestListener(metrics.http, ROUTES, listener) : listener);
}

