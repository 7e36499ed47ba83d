// A server that does nothing but what every POST /orders must: read a JSON body, parse it, answer 201 with JSON.
// `node -r ./test/support/register-ts.cjs scripts/bench/lib/floor-server.ts node-http|express`: the same work on
// node:http alone and through express (one route, express.json). Prints its port on stdout. Used by
// scripts/bench/http-floor.ts.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

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

function viaExpress(): http.Server {
  const express = require('express') as Express;
  const app = express();
  app.disable('x-powered-by');
  const created: Handler = (req, res) => res.status(201).location('/orders/x').type('json').send(answer(req.body));
  app.post('/orders', express.json(), created);
  return http.createServer(app);
}

const server = process.argv[2] === 'express' ? viaExpress() : nodeHttp();
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
