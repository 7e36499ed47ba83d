/**
 * The request attributes of HTTP server spans (OpenTelemetry's stable HTTP conventions), read from real requests
 * to a real server: the server's name and port from the Host header (the scheme's default port when it names none),
 * the client behind a proxy from X-Forwarded-For, IPv4 peers of a dual-stack listener as plain IPv4, and methods
 * outside the conventions' list as `_OTHER`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Attributes } from '@opentelemetry/api';
import { httpServerAttributes } from '@outbox-relay/telemetry';

let server: http.Server;
let port: number;
const seen: Attributes[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push(httpServerAttributes(req));
    res.end();
  });
  // '::' is dual-stack: IPv4 clients arrive as ::ffff:127.0.0.1.
  await new Promise<void>((resolve) => server.listen(0, '::', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

function attributesOf(options: { method?: string; path?: string; headers?: Record<string, string> }): Promise<Attributes> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path ?? '/', headers: options.headers, setHost: !options.headers?.host }, (res) => {
      res.resume();
      res.on('end', () => resolve(seen.at(-1)!));
    });
    req.on('error', reject);
    req.end();
  });
}

it('names the server after the Host header, and the client after the connection', async () => {
  expect(await attributesOf({ path: '/orders/1?x=y', headers: { 'user-agent': 'probe/1.0' } })).toEqual({
    'http.request.method': 'GET',
    'url.path': '/orders/1',
    'url.scheme': 'http',
    'network.protocol.version': '1.1',
    'server.address': '127.0.0.1',
    'server.port': port,
    'client.address': '127.0.0.1',
    'network.peer.address': '127.0.0.1',
    'network.peer.port': expect.any(Number),
    'user_agent.original': 'probe/1.0',
  });
});

it('takes the port of a Host without one from the scheme, and understands IPv6 literals', async () => {
  expect(await attributesOf({ headers: { host: 'orders.example.com' } })).toMatchObject({ 'server.address': 'orders.example.com', 'server.port': 80 });
  expect(await attributesOf({ headers: { host: '[::1]:8443' } })).toMatchObject({ 'server.address': '::1', 'server.port': 8443 });
});

it('names the original client behind proxies from X-Forwarded-For, the proxy as the peer', async () => {
  const attributes = await attributesOf({ headers: { 'x-forwarded-for': '203.0.113.7, 10.0.0.2' } });
  expect(attributes).toMatchObject({ 'client.address': '203.0.113.7', 'network.peer.address': '127.0.0.1' });
});

it('reports a method outside the conventions as _OTHER with the original beside it', async () => {
  expect(await attributesOf({ method: 'PROPFIND' })).toMatchObject({ 'http.request.method': '_OTHER', 'http.request.method_original': 'PROPFIND' });
  expect(await attributesOf({ method: 'DELETE' })).not.toHaveProperty('http.request.method_original');
});
