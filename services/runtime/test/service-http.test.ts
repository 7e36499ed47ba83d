/**
 * The one HTTP server every process builds on: its routing rules, its error answers, its observers and its
 * shutdown (in-flight requests finish; past the deadline connections are cut). The order service's route tests
 * pin down the JSON body rules on top of it.
 */
import http from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { z } from 'zod';
import { addProbeRoutes, HttpError, ServiceHttp, type ServiceHttpOptions } from '@outbox-relay/runtime';

const silent = pino({ level: 'silent' });
const servers: ServiceHttp[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(0)));
});

async function start(options: Partial<ServiceHttpOptions> = {}, setUp: (server: ServiceHttp) => void = () => undefined) {
  const server = new ServiceHttp({ logger: silent, ...options });
  setUp(server);
  servers.push(server);
  const port = await server.listen(0, '127.0.0.1');
  return { server, base: `http://127.0.0.1:${port}` };
}

/** A log sink collecting the JSON lines written to it. */
function collectingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

it('answers an unknown path 404 and a known one 405 with Allow, every error as JSON with the correlation id', async () => {
  const { base } = await start({}, (s) => s.route({ url: '/things', GET: { handler: () => ({ ok: true }) } }));
  const missing = await fetch(`${base}/nope`);
  expect(missing.status).toBe(404);
  const body = (await missing.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ error: 'not_found', message: 'no route for GET /nope' });
  expect(body.correlationId).toBe(missing.headers.get('x-request-id'));
  const wrong = await fetch(`${base}/things`, { method: 'DELETE' });
  expect(wrong.status).toBe(405);
  expect(wrong.headers.get('allow')).toBe('GET, HEAD');
  expect(await wrong.json()).toMatchObject({ error: 'method_not_allowed' });
  // The client's request id is kept when it is usable (visible ASCII) and replaced when not.
  const echoed = await fetch(`${base}/things`, { headers: { 'x-request-id': 'abc-1' } });
  expect(echoed.headers.get('x-request-id')).toBe('abc-1');
  const replaced = await fetch(`${base}/things`, { headers: { 'x-request-id': 'a b' } });
  expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
});

it('answers an unexpected error 500 without its message and logs it with the stack; a translated one as translated', async () => {
  const { logger, lines } = collectingLogger();
  const { base } = await start(
    { logger, translateError: (error) => ((error as Error).message === 'db down' ? new HttpError(503, { error: 'unavailable' }) : null) },
    (s) => {
      s.route({ url: '/boom', GET: { handler: () => Promise.reject(new Error('secret detail')) } });
      s.route({ url: '/db', GET: { handler: () => Promise.reject(new Error('db down')) } });
    },
  );
  const boom = await fetch(`${base}/boom`);
  expect(boom.status).toBe(500);
  const body = (await boom.json()) as Record<string, unknown>;
  expect(body).toEqual({ error: 'internal_error', message: 'internal error', correlationId: boom.headers.get('x-request-id') });
  const logged = lines.find((l) => l.msg === 'request failed');
  expect(logged).toMatchObject({ level: 50, correlationId: body.correlationId });
  expect((logged?.err as { stack: string }).stack).toContain('secret detail');
  const db = await fetch(`${base}/db`);
  expect(db.status).toBe(503);
  expect(await db.json()).toMatchObject({ error: 'unavailable' });
});

it('answers a body that fails its schema 400 naming every field in plain words; a JSON scalar is not "malformed"', async () => {
  const body = z.strictObject({ id: z.uuid(), count: z.number().int().min(1), kind: z.enum(['a', 'b']) });
  const { base } = await start({}, (s) => s.route({ url: '/things', POST: { schema: { body }, handler: () => ({ ok: true }) } }));
  const post = (text: string) => fetch(`${base}/things`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
  const bad = await post(JSON.stringify({ id: 'x', count: 0, kind: 'c', extra: 1 }));
  expect(bad.status).toBe(400);
  const issues = ((await bad.json()) as { issues: Array<{ path: string; message: string }> }).issues;
  expect(Object.fromEntries(issues.map((i) => [i.path, i.message]))).toEqual({
    id: 'must be a UUID (got "x")',
    count: 'must be at least 1 (got 0)',
    kind: 'must be one of a, b (got "c")',
    extra: 'is not an allowed field',
  });
  const scalar = await post('123');
  expect(await scalar.json()).toMatchObject({ error: 'validation_failed', issues: [{ path: '(root)', message: 'must be a JSON object (got 123)' }] });
  const missing = await post('');
  expect(await missing.json()).toMatchObject({ error: 'validation_failed', issues: [{ path: '(root)', message: 'request body is required' }] });
});

it('runs the observers in order around each request with the route template, never the raw path', async () => {
  const seen: string[] = [];
  const { base } = await start(
    {
      observers: [
        (_req, res, routeOf, next) => {
          res.once('finish', () => seen.push(`outer ${routeOf() ?? 'unmatched'} ${res.statusCode}`));
          next();
        },
        (_req, _res, routeOf, next) => {
          seen.push(`inner ${routeOf() ?? 'unmatched'}`);
          next();
        },
      ],
    },
    (s) => s.route({ url: '/things/:id', GET: { handler: () => ({ ok: true }) } }),
  );
  await fetch(`${base}/things/42`);
  await fetch(`${base}/other/42`);
  expect(seen).toEqual(['inner /things/:id', 'outer /things/:id 200', 'inner unmatched', 'outer unmatched 404']);
});

it('refuses a request fastify cannot frame as the client error it is', async () => {
  const { base } = await start({}, (s) => s.route({ url: '/things', POST: { handler: () => ({ ok: true }) } }));
  const { port } = new URL(base);
  // Content-Length that is not a number: answered 400 by node's parser or by fastify, never a 500.
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/things', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '2', 'transfer-encoding': 'chunked' } });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end('{}');
  });
  expect(status).toBeGreaterThanOrEqual(400);
  expect(status).toBeLessThan(500);
});

describe('probes', () => {
  it('report liveness, readiness with its reason, status and metrics; a failing collector is a 500 scrape', async () => {
    let live = true;
    let ready = false;
    let collectorFails = false;
    const { base } = await start({}, (s) =>
      addProbeRoutes(s, {
        live: () => live,
        healthDetails: () => ({ processed: 7 }),
        readiness: () => (ready ? { ready: true } : { ready: false, reason: 'starting' }),
        status: () => ({ leading: true }),
        metrics: {
          render: async (accept) => {
            if (collectorFails) throw new Error('pool closed');
            const openMetrics = accept?.includes('openmetrics') ?? false;
            return { contentType: openMetrics ? 'application/openmetrics-text; version=1.0.0' : 'text/plain; version=0.0.4', text: openMetrics ? 'up 1\n# EOF\n' : 'up 1\n' };
          },
        },
      }),
    );
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok', processed: 7 });
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'unavailable', reason: 'starting' });
    ready = true;
    live = false;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(503);
    expect(await (await fetch(`${base}/status`)).json()).toEqual({ leading: true });
    const classic = await fetch(`${base}/metrics`);
    expect(classic.headers.get('content-type')).toBe('text/plain; version=0.0.4');
    expect(classic.headers.get('vary')).toBe('Accept');
    expect(await classic.text()).toBe('up 1\n');
    // The scraper's Accept header reaches the exposition, which picks the format and its content type.
    const openMetrics = await fetch(`${base}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(openMetrics.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0');
    expect(await openMetrics.text()).toBe('up 1\n# EOF\n');
    collectorFails = true;
    const failed = await fetch(`${base}/metrics`);
    expect(failed.status).toBe(500);
    expect(await failed.text()).toContain('pool closed');
  });
});

describe('close', () => {
  /** A GET /slow whose answer waits until `release()`; `arrived` resolves when the request is being handled. */
  function slowRoute() {
    let release = () => undefined as void;
    let arrivedResolve = () => undefined as void;
    const arrived = new Promise<void>((resolve) => (arrivedResolve = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    return {
      arrived,
      release: () => release(),
      setUp: (s: ServiceHttp) =>
        s.route({
          url: '/slow',
          GET: {
            handler: async () => {
              arrivedResolve();
              await released;
              return { done: true };
            },
          },
        }),
    };
  }

  it('lets an in-flight request finish, its answer telling the keep-alive client to reconnect elsewhere', async () => {
    const slow = slowRoute();
    const { server, base } = await start({}, slow.setUp);
    const answer = fetch(`${base}/slow`);
    await slow.arrived;
    const closed = server.close(60_000);
    slow.release();
    const res = await answer;
    expect(res.status).toBe(200);
    expect(res.headers.get('connection')).toBe('close');
    expect(await res.json()).toEqual({ done: true });
    // Closed because the request finished, long before the deadline.
    expect(await closed).toBe(true);
  });

  it('cuts what is still in flight at the deadline and says so', async () => {
    const slow = slowRoute();
    const { server, base } = await start({}, slow.setUp);
    const answer = fetch(`${base}/slow`).then(
      () => 'answered',
      () => 'cut',
    );
    await slow.arrived;
    expect(await server.close(50)).toBe(false);
    expect(await answer).toBe('cut');
    slow.release();
  });
});
