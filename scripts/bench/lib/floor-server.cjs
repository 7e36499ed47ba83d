// A server that does nothing but what every POST /orders must: read a JSON body, parse it, answer 201 with JSON.
// `node floor-server.cjs node-http|express`: the same work on node:http alone and through express (one route,
// express.json). Prints its port on stdout. Used by scripts/bench/http-floor.mjs.
const http = require('node:http');

const ANSWER = (body) => JSON.stringify({ orderId: '6f1c1b5e-0000-4000-8000-000000000000', state: 'PENDING', amount: body.amount });

function nodeHttp() {
  return http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      const out = ANSWER(JSON.parse(text));
      res.writeHead(201, { 'content-type': 'application/json; charset=utf-8', location: '/orders/x', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
  });
}

function viaExpress() {
  const express = require('express');
  const app = express();
  app.disable('x-powered-by');
  app.post('/orders', express.json(), (req, res) => {
    res.status(201).location('/orders/x').type('json').send(ANSWER(req.body));
  });
  return http.createServer(app);
}

const server = process.argv[2] === 'express' ? viaExpress() : nodeHttp();
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
