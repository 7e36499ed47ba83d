import type http from 'node:http';
import type { Logger } from 'pino';
import { toFieldIssues, type FieldIssue } from '@outbox-relay/runtime';
import { sendJson } from './respond';

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

/** A route that exists answers other methods with 405 and an Allow header. */
export function methodNotAllowed(method: string | undefined, allowed: readonly string[]): HttpError {
  return new HttpError(
    405,
    { error: 'method_not_allowed', message: `${method ?? ''} is not allowed here; use ${allowed.join(', ')}` },
    { Allow: allowed.join(', ') },
  );
}

export function notFound(method: string | undefined, path: string): HttpError {
  return new HttpError(404, { error: 'not_found', message: `no route for ${method ?? ''} ${path}` });
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
  if (isDatabaseUnavailable(error)) {
    return new HttpError(503, { error: 'unavailable', message: 'database unavailable, retry later' }, { 'Retry-After': '1' });
  }
  return null;
}

/** Every error becomes a JSON response; only unexpected ones are 500s and logged with their stack. */
export function sendError(req: http.IncomingMessage, res: http.ServerResponse, error: unknown, log: Logger, correlationId: string): void {
  if (res.headersSent) {
    log.error({ err: error }, 'request failed after its answer started');
    res.destroy();
    return;
  }
  const known = translate(error);
  if (known) {
    if (known.status >= 500) log.warn({ err: error }, known.message);
    sendJson(req, res, known.status, { ...known.body, correlationId }, known.headers);
    return;
  }
  log.error({ err: error }, 'request failed');
  sendJson(req, res, 500, { error: 'internal_error', message: 'internal error', correlationId });
}
