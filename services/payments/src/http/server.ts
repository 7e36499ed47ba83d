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

/** Why a request body was refused, with the status that says so. */
class BodyError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    readonly code: 'malformed_json' | 'payload_too_large' | 'unsupported_media_type',
    message: string,
  ) {
    super(message);
  }
}

/**
 * A JSON body of at most BODY_LIMIT bytes, sent as application/json. Reading stops at the limit (the request is
 * answered 413 without waiting for the rest, which the client may still be sending).
 */
function readJson(req: http.IncomingMessage): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    return Promise.reject(new BodyError(415, 'unsupported_media_type', `content-type must be application/json, got "${type || '(none)'}"`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_LIMIT) {
        req.off('data', onData);
        req.resume();
        reject(new BodyError(413, 'payload_too_large', `body larger than ${BODY_LIMIT} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => {
      if (size > BODY_LIMIT) return;
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text === '' ? {} : JSON.parse(text));
      } catch {
        reject(new BodyError(400, 'malformed_json', 'body is not valid JSON'));
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
    if (!(error instanceof BodyError)) throw error;
    if (error.status === 413) res.setHeader('connection', 'close');
    return send(res, error.status, { error: error.code, message: error.message });
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

