import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { toFieldIssues, type FieldIssue } from '@outbox-relay/outbox';
import { requestContextOf } from './request-context';

/** An error that is the client's to fix (or a deliberate refusal): sent as `status` with a JSON body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error: string; [field: string]: unknown },
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body.message === 'string' ? body.message : body.error);
    this.name = 'HttpError';
  }
}

export function validationFailed(issues: FieldIssue[]): HttpError {
  return new HttpError(400, { error: 'validation_failed', issues });
}

interface ZodLikeIssue {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
}

/** zod issues as `{path, message}`, one per offending field (an unknown key is named as its own path). */
export function fieldIssues(issues: ReadonlyArray<ZodLikeIssue>, prefix = ''): FieldIssue[] {
  const flat = issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys' && issue.keys
      ? issue.keys.map((key) => ({ path: [...issue.path, key], message: 'is not an allowed field' }))
      : [issue],
  );
  return toFieldIssues(flat, prefix);
}

/** Routes that exist answer other methods with 405 and an Allow header. */
export function methodNotAllowed(allowed: string[]): RequestHandler {
  return (req, _res, next) => {
    next(
      new HttpError(
        405,
        { error: 'method_not_allowed', message: `${req.method} is not allowed here; use ${allowed.join(', ')}` },
        { Allow: allowed.join(', ') },
      ),
    );
  };
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, { error: 'not_found', message: `no route for ${req.method} ${req.path}` }));
};

/** Error types of body-parser (express.json), which carry `type` and a 4xx `status`. */
interface BodyParserError {
  type?: string;
  status?: number;
  expose?: boolean;
  limit?: number;
  message: string;
}

const PG_UNAVAILABLE = /^(08|53|57P)/;
const NET_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

/** Postgres unreachable, overloaded or shutting down: the request may succeed on a retry. */
function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (PG_UNAVAILABLE.test(code) || NET_UNAVAILABLE.has(code))) return true;
  return typeof message === 'string' && /timeout exceeded when trying to connect|Connection terminated/.test(message);
}

function translate(error: unknown): HttpError | null {
  if (error instanceof HttpError) return error;
  const parser = error as BodyParserError;
  switch (parser?.type) {
    case 'entity.parse.failed':
      return new HttpError(400, { error: 'malformed_json', message: 'request body is not valid JSON' });
    case 'entity.too.large':
      return new HttpError(413, {
        error: 'payload_too_large',
        message: `request body exceeds the limit of ${parser.limit ?? '?'} bytes`,
      });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new HttpError(415, { error: 'unsupported_media_type', message: parser.message });
  }
  if (typeof parser?.status === 'number' && parser.status >= 400 && parser.status < 500 && parser.expose) {
    return new HttpError(parser.status, { error: 'bad_request', message: parser.message });
  }
  if (isDatabaseUnavailable(error)) {
    return new HttpError(503, { error: 'unavailable', message: 'database unavailable, retry later' }, { 'Retry-After': '1' });
  }
  return null;
}

/** Last middleware: every error becomes a JSON response; only unexpected ones are 500s and logged with stack. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, _req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const log = (res.locals.ctx ? requestContextOf(res).log : logger) as Logger;
    const correlationId = res.locals.ctx ? requestContextOf(res).correlationId : undefined;
    const known = translate(error);
    if (known) {
      if (known.status >= 500) log.warn({ err: error }, known.message);
      res.status(known.status).set(known.headers).json({ ...known.body, correlationId });
      return;
    }
    log.error({ err: error }, 'request failed');
    res.status(500).json({ error: 'internal_error', message: 'internal error', correlationId });
  };
}
