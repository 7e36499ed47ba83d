import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/** Per-request state the routes and the access log share. */
export interface RequestContext {
  /** The client's `X-Request-Id` when usable, else a new uuid; echoed in the response and in every error body. */
  correlationId: string;
  /** The caller's W3C trace context, when it sent a valid one. */
  traceparent?: string;
  tracestate?: string;
  /** Logger bound to this request's correlation id. */
  readonly log: Logger;
  /** Fields a route adds to the request's access-log line (the ids it touched: orderId, eventId). */
  logFields: Record<string, unknown>;
}

declare module 'fastify' {
  interface FastifyRequest {
    requestContext: RequestContext;
  }
}

// Visible ASCII only, so the id is safe in logs, headers and NATS headers.
const REQUEST_ID = /^[\x21-\x7e]{1,200}$/;
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/** A W3C traceparent (version 00 layout), or undefined if the header is absent or invalid (then it is ignored). */
export function parseTraceparent(value: string | undefined): string | undefined {
  const match = value === undefined ? null : TRACEPARENT.exec(value);
  if (!match) return undefined;
  const [, version, traceId, parentId] = match;
  if (version === 'ff' || /^0+$/.test(traceId!) || /^0+$/.test(parentId!)) return undefined;
  return value;
}

/** One request header as a string (the first, if it was sent more than once). */
export function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The correlation id of a request: the client's `X-Request-Id` when usable, else a new uuid. */
export function correlationIdOf(req: IncomingMessage): string {
  const offered = headerOf(req, 'x-request-id');
  return offered !== undefined && REQUEST_ID.test(offered) ? offered : randomUUID();
}

/**
 * Opens one request's context: trace context, a request-bound logger (made on first use: most requests at
 * LOG_LEVEL=warn never log a line), the `X-Request-Id` answer header and one access-log line when the response
 * ends (`quiet()`: at debug level, for probes and scrapes).
 */
export function openRequestContext(
  req: IncomingMessage,
  res: ServerResponse,
  correlationId: string,
  logger: Logger,
  quiet: () => boolean,
): RequestContext {
  const traceparent = parseTraceparent(headerOf(req, 'traceparent'));
  const tracestate = traceparent === undefined ? undefined : headerOf(req, 'tracestate');
  let log: Logger | undefined;
  const ctx: RequestContext = {
    correlationId,
    logFields: {},
    get log() {
      return (log ??= logger.child({ correlationId }));
    },
  };
  if (traceparent !== undefined) ctx.traceparent = traceparent;
  if (tracestate !== undefined && tracestate.length <= 512) ctx.tracestate = tracestate;
  res.setHeader('X-Request-Id', correlationId);

  const started = process.hrtime.bigint();
  const logLine = (message: string) => {
    const level = res.statusCode >= 500 ? 'error' : quiet() ? 'debug' : 'info';
    if (!logger.isLevelEnabled(level)) return;
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    ctx.log[level]({ method: req.method, path: req.url, status: res.statusCode, durationMs, ...ctx.logFields }, message);
  };
  res.once('finish', () => logLine('request completed'));
  res.once('close', () => {
    if (!res.writableFinished) logLine('request aborted by client');
  });
  return ctx;
}
