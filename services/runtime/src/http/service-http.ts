import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifySchema } from 'fastify';
import type { Logger } from 'pino';
import { listenHttp } from '../http-listen';
import { HttpError, methodNotAllowed, notFound, payloadTooLarge } from './http-error';
import { acceptJsonBodies } from './json-body';
import { correlationIdOf, openRequestContext } from './request-context';
import { RequestValidationError, zodValidatorCompiler } from './zod-validation';

/**
 * Runs around each request from its arrival (a metrics timer, a trace span). `routeOf()` names the matched route
 * template once known (never the raw path: paths carry ids). Call `next` exactly once, in the context the rest
 * of the request should run in.
 */
export type RequestObserver = (req: IncomingMessage, res: ServerResponse, routeOf: () => string | undefined, next: () => void) => void;

export interface ServiceHttpOptions {
  logger: Logger;
  /** Largest accepted request body. Default 64 KiB. */
  bodyLimitBytes?: number;
  /** Run around every request in this order (the first is outermost). */
  observers?: readonly RequestObserver[];
  /** Errors of the service's dependencies that deserve an answer other than 500 (a database outage: 503). */
  translateError?: (error: unknown) => HttpError | null;
}

type RouteMethod = 'GET' | 'POST' | 'PUT';

/** What one method of a route does: an optional schema (zod for the request, JSON Schema for responses). */
export interface MethodHandler {
  schema?: FastifySchema;
  handler: (request: FastifyRequest, reply: FastifyReply) => unknown;
}

export type ServiceRoute = { url: string; /** access-logged at debug level (probes, scrapes) */ quiet?: boolean } & Partial<
  Record<RouteMethod, MethodHandler>
>;

declare module 'fastify' {
  interface FastifyContextConfig {
    quiet?: boolean;
  }
}

const OTHER_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * The one HTTP server of a process (fastify): the service's API if it has one, its probes, metrics and admin
 * endpoints. Every answer is JSON with an `X-Request-Id` (the correlation id); every error body is
 * `{error, message?, correlationId}`; paths match case-insensitively and with or without a trailing slash; a
 * known path answers other methods 405 with `Allow`; each request gets one access-log line.
 */
export class ServiceHttp {
  readonly app: FastifyInstance;
  private readonly logger: Logger;
  private readonly bodyLimitBytes: number;
  private readonly translateError: (error: unknown) => HttpError | null;
  /** Responses not yet finished: told to close their connection when shutdown begins. */
  private readonly inFlight = new Set<ServerResponse>();
  private closing = false;

  constructor(options: ServiceHttpOptions) {
    this.logger = options.logger;
    this.bodyLimitBytes = options.bodyLimitBytes ?? 64 * 1024;
    this.translateError = options.translateError ?? (() => null);
    this.app = Fastify({
      bodyLimit: this.bodyLimitBytes,
      routerOptions: { caseSensitive: false, ignoreTrailingSlash: true },
      genReqId: correlationIdOf,
      requestIdHeader: false,
      // No fastify logger: access logs are this server's own (one line per request, with the ids a route touched).
      // A request arriving on a kept-alive connection while draining is still served (with Connection: close).
      return503OnClosing: false,
    });
    acceptJsonBodies(this.app);
    this.app.setValidatorCompiler(zodValidatorCompiler);
    const { logger } = this;
    const observers = options.observers ?? [];
    const { inFlight } = this;
    // One listener for every response (it is called with the response as `this`): no closure per request.
    const server = this;
    function onResponseClosed(this: ServerResponse): void {
      inFlight.delete(this);
      // A connection that was kept alive after its answer while closing would hold the server open.
      if (server.closing) server.app.server.closeIdleConnections();
    }
    this.app.addHook('onRequest', (request, reply, done) => {
      const res = reply.raw;
      inFlight.add(res);
      res.once('close', onResponseClosed);
      if (this.closing) res.setHeader('Connection', 'close');
      request.requestContext = openRequestContext(request.raw, res, request.id, logger, request.routeOptions.config?.quiet === true);
      if (observers.length === 0) return done();
      const routeOf = () => request.routeOptions.url;
      const run = (index: number): void => (index === observers.length ? done() : observers[index]!(request.raw, res, routeOf, () => run(index + 1)));
      run(0);
    });
    this.app.setNotFoundHandler((request) => {
      throw notFound(request.method, request.url.split('?')[0] ?? '/');
    });
    this.app.setErrorHandler((error, request, reply) => this.answerError(error, request, reply));
  }

  /** Adds a path with a handler per method; HEAD follows GET, other methods are answered 405 with `Allow`. */
  route(route: ServiceRoute): this {
    const allowed: string[] = [];
    for (const method of ['GET', 'POST', 'PUT'] as const) {
      const definition = route[method];
      if (!definition) continue;
      allowed.push(...(method === 'GET' ? ['GET', 'HEAD'] : [method]));
      this.app.route({ method, url: route.url, config: { quiet: route.quiet ?? false }, ...definition });
    }
    const others = OTHER_METHODS.filter((method) => !allowed.includes(method));
    this.app.route({
      method: [...others],
      url: route.url,
      config: { quiet: route.quiet ?? false },
      handler: (request) => {
        throw methodNotAllowed(request.method, allowed);
      },
    });
    return this;
  }

  /** Listens on `port` (0: any free one) and resolves with the port. */
  async listen(port: number, host?: string): Promise<number> {
    await this.app.ready();
    return listenHttp(this.app.server, port, host);
  }

  /**
   * Stops accepting connections and resolves when in-flight requests have finished, their answers telling
   * keep-alive clients to reconnect elsewhere (`Connection: close`); idle connections are closed at once. After
   * `timeoutMs` the remaining connections are cut; resolves `false` in that case.
   */
  close(timeoutMs: number): Promise<boolean> {
    const server = this.app.server;
    this.closing = true;
    for (const res of this.inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
    if (!server.listening) return this.app.close().then(() => true);
    return new Promise<boolean>((resolve) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        server.closeAllConnections();
      }, timeoutMs);
      server.close(() => {
        clearTimeout(timer);
        resolve(!timedOut);
      });
      server.closeIdleConnections();
    }).then(async (inTime) => {
      await this.app.close();
      return inTime;
    });
  }

  private answerError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
    const ctx = request.requestContext;
    const known = this.knownError(error);
    if (known === null) {
      ctx.log.error({ err: error }, 'request failed');
      void reply.code(500).send({ error: 'internal_error', message: 'internal error', correlationId: ctx.correlationId });
      return;
    }
    if (known.status >= 500) ctx.log.warn({ err: error }, known.message);
    void reply
      .code(known.status)
      .headers(known.headers)
      .send({ ...known.body, correlationId: ctx.correlationId });
  }

  private knownError(error: unknown): HttpError | null {
    if (error instanceof HttpError) return error;
    if (error instanceof RequestValidationError) return error.toHttpError();
    const fastifyError = error as { code?: unknown; statusCode?: unknown; message?: unknown };
    if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return payloadTooLarge(this.bodyLimitBytes);
    const translated = this.translateError(error);
    if (translated) return translated;
    // What fastify refuses itself (a bad Content-Length, an invalid URL) is the client's to fix.
    if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
      return new HttpError(fastifyError.statusCode, { error: 'bad_request', message: String(fastifyError.message) });
    }
    return null;
  }
}
