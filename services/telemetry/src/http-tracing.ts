import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type TextMapGetter } from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';

const requestHeaders: TextMapGetter<http.IncomingHttpHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key.toLowerCase()],
};

/** The methods HTTP semantic conventions know; any other is `_OTHER`, with the original in `http.request.method_original`. */
const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'QUERY', 'TRACE']);
const OTHER_METHOD = '_OTHER';

/** `host[:port]` of a Host header (IPv6 literals in brackets), or undefined when absent or malformed. */
function hostAndPort(host: string | undefined): { address: string; port: number | undefined } | undefined {
  const match = host === undefined ? null : /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(host.trim());
  if (!match) return undefined;
  return { address: match[1]!.replace(/^\[|\]$/g, ''), port: match[2] === undefined ? undefined : Number(match[2]) };
}

/** An IPv4 address as such: a dual-stack listener reports IPv4 peers as IPv4-mapped IPv6 (`::ffff:127.0.0.1`). */
function plainAddress(address: string | undefined): string | undefined {
  return address?.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
}

/** The original client: the first X-Forwarded-For entry when a proxy set one, else the connection's peer. */
function clientAddress(req: http.IncomingMessage): string | undefined {
  const forwarded = req.headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  return first || plainAddress(req.socket.remoteAddress);
}

/** The request attributes of a SERVER span under OpenTelemetry's (stable) HTTP semantic conventions. */
export function httpServerAttributes(req: http.IncomingMessage): Attributes {
  const original = (req.method ?? '').toUpperCase();
  const method = KNOWN_METHODS.has(original) ? original : OTHER_METHOD;
  const scheme = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  const server = hostAndPort(req.headers.host);
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_URL_PATH]: (req.url ?? '/').split('?')[0] || '/',
    [ATTR_URL_SCHEME]: scheme,
    [ATTR_NETWORK_PROTOCOL_VERSION]: req.httpVersion,
  };
  if (method === OTHER_METHOD) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = req.method ?? '';
  if (server) {
    attributes[ATTR_SERVER_ADDRESS] = server.address;
    // No port in Host: the client used the scheme's default one.
    attributes[ATTR_SERVER_PORT] = server.port ?? (scheme === 'https' ? 443 : 80);
  } else if (req.socket.localAddress !== undefined) {
    attributes[ATTR_SERVER_ADDRESS] = plainAddress(req.socket.localAddress)!;
    if (req.socket.localPort !== undefined) attributes[ATTR_SERVER_PORT] = req.socket.localPort;
  }
  const client = clientAddress(req);
  if (client !== undefined) attributes[ATTR_CLIENT_ADDRESS] = client;
  if (req.socket.remoteAddress !== undefined) attributes[ATTR_NETWORK_PEER_ADDRESS] = plainAddress(req.socket.remoteAddress)!;
  if (req.socket.remotePort !== undefined) attributes[ATTR_NETWORK_PEER_PORT] = req.socket.remotePort;
  const userAgent = req.headers['user-agent'];
  if (userAgent !== undefined) attributes[ATTR_USER_AGENT_ORIGINAL] = userAgent;
  return attributes;
}

/**
 * Opens the SERVER span of one HTTP request, a child of the caller's `traceparent` when it sent one (with the
 * caller's W3C baggage in its context), and ends it when the response finishes (or the client goes away), named
 * `<METHOD> <route template>` from `routeOf()` at that moment (`<METHOD>` alone when no route matched; `HTTP` for a
 * method outside the conventions' list). Returns the context to run the request in. Without an SDK this is a few
 * no-op calls.
 */
export function startHttpServerSpan(req: http.IncomingMessage, res: http.ServerResponse, routeOf: () => string | undefined): Context {
  const parent = propagation.extract(ROOT_CONTEXT, req.headers, requestHeaders);
  // The request attributes are given at creation, where samplers see them (httpObservers adds no span at all
  // when tracing is off, so this work is only done when spans are wanted).
  const attributes = httpServerAttributes(req);
  const method = attributes[ATTR_HTTP_REQUEST_METHOD] === OTHER_METHOD ? 'HTTP' : String(attributes[ATTR_HTTP_REQUEST_METHOD]);
  const span = trace.getTracer('@outbox-relay/telemetry').startSpan(method, { kind: SpanKind.SERVER, attributes }, parent);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    const route = routeOf();
    if (route !== undefined) {
      span.updateName(`${method} ${route}`);
      span.setAttribute(ATTR_HTTP_ROUTE, route);
    }
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
    if (res.statusCode >= 500) {
      span.setAttribute(ATTR_ERROR_TYPE, String(res.statusCode));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    if (!res.writableFinished) span.setAttribute('http.aborted', true);
    span.end();
  };
  res.once('finish', end);
  res.once('close', end);
  return trace.setSpan(parent, span);
}

/**
 * Runs `next` (the rest of the request's handling) inside a new SERVER span (see startHttpServerSpan). The request
 * and response emitters are bound to that context too: body parsers resume in the stream's callbacks, which
 * would otherwise run outside it.
 */
export function runInHttpServerSpan(req: http.IncomingMessage, res: http.ServerResponse, routeOf: () => string | undefined, next: () => void): void {
  const active = startHttpServerSpan(req, res, routeOf);
  context.bind(active, req);
  context.bind(active, res);
  context.with(active, next);
}
