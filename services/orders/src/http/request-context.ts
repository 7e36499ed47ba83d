import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { Logger } from 'pino';

/** Per-request state shared by the middleware, the routes and the access log. */
export interface RequestContext {
  correlationId: string;
  traceparent?: string;
  tracestate?: string;
  /** Logger bound to this request's correlation id. */
  log: Logger;
  /** Set by routes so the access log line names what the request touched. */
  orderId?: string;
  eventId?: string;
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

/**
 * Opens one request's context: correlation id (the client's `X-Request-Id` when usable, else a new uuid; echoed in
 * the response), trace context, a request-bound logger and one access-log line when the response ends (`quiet`:
 * at debug level, for probes and scrapes).
 */
export function openRequestContext(req: http.IncomingMessage, res: http.ServerResponse, logger: Logger, quiet: boolean): RequestContext {
  const offered = headerOf(req, 'x-request-id');
  const correlationId = offered !== undefined && REQUEST_ID.test(offered) ? offered : randomUUID();
  const traceparent = parseTraceparent(headerOf(req, 'traceparent'));
  const tracestate = traceparent === undefined ? undefined : headerOf(req, 'tracestate');
  // The child logger is made on first use: most requests at LOG_LEVEL=warn never log a line.
  let log: Logger | undefined;
  const ctx: RequestContext = {
    correlationId,
    get log() {
      return (log ??= logger.child({ correlationId }));
    },
  };
  if (traceparent !== undefined) ctx.traceparent = traceparent;
  if (tracestate !== undefined && tracestate.length <= 512) ctx.tracestate = tracestate;
  res.setHeader('X-Request-Id', correlationId);

  const started = process.hrtime.bigint();
  const logLine = (message: string) => {
    const level = res.statusCode >= 500 ? 'error' : quiet ? 'debug' : 'info';
    if (!logger.isLevelEnabled(level)) return;
    const fields = {
      method: req.method,
      path: req.url,
      status: res.statusCode,
      durationMs: Number(process.hrtime.bigint() - started) / 1e6,
      orderId: ctx.orderId,
      eventId: ctx.eventId,
    };
    ctx.log[level](fields, message);
  };
  res.once('finish', () => logLine('request completed'));
  res.once('close', () => {
    if (!res.writableFinished) logLine('request aborted by client');
  });
  return ctx;
}

/** One request header as a string (the first, if it was sent more than once). */
export function headerOf(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
