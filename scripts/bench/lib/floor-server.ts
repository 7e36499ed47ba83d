// A server that does nothing but what every POST /orders must: read a JSON body, parse it, answer 201 with JSON.
// `node -r ./test/support/register-ts.cjs scripts/bench/lib/floor-server.ts <variant>`: the same work on node:http
// alone (node-http), on node:http with the order service's zod validation of the body (node-http-zod), through
// the runtime's ServiceHttp as the order service uses it (service-http: fastify, the same validation, a response
// schema, the access-log context, the correlation id) and through express (one route, express.json). Prints its
// port on stdout. Used by scripts/bench/http-floor.ts.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOrderRequestSchema } from '@outbox-relay/orders';
import { createLogger, ServiceHttp } from '@outbox-relay/runtime';

/** The parts of express 5 used here (the project has no type declarations for express). */
interface ExpressResponse {
  status(code: number): ExpressResponse;
  location(url: string): ExpressResponse;
  type(type: string): ExpressResponse;
  send(body: string): void;
}
type Handler = (req: { body: { amount?: unknown } }, res: ExpressResponse) => void;
interface ExpressApp extends http.RequestListener {
  disable(setting: string): void;
  post(path: string, ...handlers: unknown[]): void;
}
type Express = (() => ExpressApp) & { json(): unknown };

const answer = (body: { amount?: unknown }) => JSON.stringify({ orderId: '6f1c1b5e-0000-4000-8000-000000000000', state: 'PENDING', amount: body.amount });

function nodeHttp(): http.Server {
  return http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      const out = answer(JSON.parse(text) as { amount?: unknown });
      res.writeHead(201, { 'content-type': 'application/json; charset=utf-8', location: '/orders/x', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
}

function nodeHttpWithZod(): http.Server {
  return http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      const parsed = createOrderRequestSchema.safeParse(JSON.parse(text));
      const out = answer(parsed.success ? parsed.data : {});
      res.writeHead(parsed.success ? 201 : 400, { 'content-type': 'application/json; charset=utf-8', location: '/orders/x', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
}

function viaServiceHttp(): ServiceHttp {
  const service = new ServiceHttp({ logger: createLogger('floor', 'warn') });
  const created = {
    type: 'object',
    properties: { orderId: { type: 'string' }, state: { type: 'string' }, amount: { type: 'number' } },
    required: ['orderId', 'state'],
  };
  service.route({
    url: '/orders',
    POST: {
      schema: { body: createOrderRequestSchema, response: { 201: created } },
      handler: (request, reply) => {
        reply.code(201).header('Location', '/orders/x');
        return JSON.parse(answer(request.body as { amount?: unknown })) as unknown;
      },
    },
  });
  return service;
}

function viaExpress(): http.Server {
  const express = require('express') as Express;
  const app = express();
  app.disable('x-powered-by');
  const created: Handler = (req, res) => res.status(201).location('/orders/x').type('json').send(answer(req.body));
  app.post('/orders', express.json(), created);
  return http.createServer(app);
}

const variants: Record<string, () => http.Server | ServiceHttp> = { 'node-http': nodeHttp, 'node-http-zod': nodeHttpWithZod, 'service-http': viaServiceHttp, express: viaExpress };
const make = variants[process.argv[2] ?? 'node-http'];
if (!make) throw new Error(`unknown variant ${process.argv[2]}; one of ${Object.keys(variants).join(', ')}`);
const server = make();
const announce = (port: number) => process.stdout.write(`${port}\n`);
if (server instanceof ServiceHttp) void server.listen(0, '127.0.0.1').then(announce);
else server.listen(0, '127.0.0.1', () => announce((server.address() as AddressInfo).port));
