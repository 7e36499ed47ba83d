import { toFieldIssues, type FieldIssue } from '../config-error';

/** The JSON body of every error answer: a stable machine-readable `error` code and, usually, a `message`. */
export interface HttpErrorBody {
  error: string;
  message?: string;
  [field: string]: unknown;
}

/** An error that is the client's to fix (or a deliberate refusal): answered with `status` and a JSON body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: HttpErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body.message === 'string' ? body.message : body.error);
    this.name = 'HttpError';
  }
}

/** 400 `validation_failed` listing every offending field. */
export function validationFailed(issues: FieldIssue[]): HttpError {
  return new HttpError(400, { error: 'validation_failed', issues });
}

export function notFound(method: string, path: string): HttpError {
  return new HttpError(404, { error: 'not_found', message: `no route for ${method} ${path}` });
}

/** A path that exists answers other methods with 405 and an Allow header. */
export function methodNotAllowed(method: string, allowed: readonly string[]): HttpError {
  return new HttpError(
    405,
    { error: 'method_not_allowed', message: `${method} is not allowed here; use ${allowed.join(', ')}` },
    { Allow: allowed.join(', ') },
  );
}

export function payloadTooLarge(limitBytes: number): HttpError {
  return new HttpError(413, { error: 'payload_too_large', message: `request body exceeds the limit of ${limitBytes} bytes` });
}

export function unsupportedMediaType(message: string): HttpError {
  return new HttpError(415, { error: 'unsupported_media_type', message });
}

interface ZodLikeIssue {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
}

/** zod issues as field issues, one per offending field (each unknown key is named as its own path). */
export function fieldIssuesOf(issues: ReadonlyArray<ZodLikeIssue>, prefix = ''): FieldIssue[] {
  const flat = issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys' && issue.keys
      ? issue.keys.map((key) => ({ path: [...issue.path, key], message: 'is not an allowed field' }))
      : [issue],
  );
  return toFieldIssues(flat, prefix);
}
