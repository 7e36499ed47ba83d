import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/** Per-request state the routes and the access log share. */
export interface RequestContext {
  /** The client's `X-Request-Id` when usable, else a new uuid; echoed in the response and in every error body. */
  readonly correlationId: string;
  /** The caller's W3C trace context, when it sent a valid one. */
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  /** Logger bound to this request's correlation id. */
  readonly log: Logger;
  /** Fields a route adds to the request's access-log line (the ids it touched: orderId, eventId). */
  readonly logFields: Record<string, unknown>;
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

const kContext = Symbol('outbox-relay request context');
type ResponseWithContext = ServerResponse & { [kContext]?: OpenRequestContext };

/**
 * One request's context. A class, and listeners shared by every response (they find the context on the response),
 * so a request allocates one object here and no closures: at tens of thousands of requests a second, closures
 * and object literals with getters per request showed up as garbage-collector time.
 */
class OpenRequestContext implements RequestContext {
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  readonly logFields: Record<string, unknown> = {};
  private boundLog: Logger | undefined;
  private readonly started = process.hrtime.bigint();

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    readonly correlationId: string,
    private readonly logger: Logger,
    private readonly quiet: boolean,
  ) {
    const traceparent = parseTraceparent(headerOf(req, 'traceparent'));
    const tracestate = traceparent === undefined ? undefined : headerOf(req, 'tracestate');
    this.traceparent = traceparent;
    this.tracestate = tracestate !== undefined && tracestate.length <= 512 ? tracestate : undefined;
  }

  /** Made on first use: most requests at LOG_LEVEL=warn never log a line. */
  get log(): Logger {
    return (this.boundLog ??= this.logger.child({ correlationId: this.correlationId }));
  }

  logLine(message: string): void {
    const { res } = this;
    const level = res.statusCode >= 500 ? 'error' : this.quiet ? 'debug' : 'info';
    if (!this.logger.isLevelEnabled(level)) return;
    const durationMs = Number(process.hrtime.bigint() - this.started) / 1e6;
    this.log[level]({ method: this.req.method, path: this.req.url, status: res.statusCode, durationMs, ...this.logFields }, message);
  }
}

function onFinish(this: ResponseWithContext): void {
  this[kContext]?.logLine('request completed');
}

function onClose(this: ResponseWithContext): void {
  if (!this.writableFinished) this[kContext]?.logLine('request aborted by client');
}

/**
 * Opens one request's context: trace context, a request-bound logger, the `X-Request-Id` answer header and one
 * access-log line when the response ends (`quiet`: at debug level, for probes and scrapes).
 */
export function openRequestContext(req: IncomingMessage, res: ServerResponse, correlationId: string, logger: Logger, quiet: boolean): RequestContext {
  const ctx = new OpenRequestContext(req, res, correlationId, logger, quiet);
  res.setHeader('X-Request-Id', correlationId);
  (res as ResponseWithContext)[kContext] = ctx;
  res.once('finish', onFinish);
  res.once('close', onClose);
  return ctx;
}
