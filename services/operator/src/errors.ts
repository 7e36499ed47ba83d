/**
 * Typed errors of the operator. Each carries what an incident needs (the operation, the object, the HTTP status)
 * as fields, not only inside the message.
 */
export class OperatorError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A request to the Kubernetes API failed. `statusCode` is undefined when no HTTP answer came (network error). */
export class KubeApiError extends OperatorError {
  readonly operation: string;
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly objectName: string | undefined;
  readonly statusCode: number | undefined;
  /** The Status reason the server gave (NotFound, Conflict, Invalid, ...), when it gave one. */
  readonly reason: string | undefined;
  /** No answer came before the request's timeout or deadline. */
  readonly timedOut: boolean;

  constructor(
    operation: string,
    target: { kind: string; namespace?: string | undefined; name?: string | undefined },
    cause: unknown,
  ) {
    const statusCode = httpStatusOf(cause);
    const status = statusBodyOf(cause);
    const where = [target.namespace, target.name].filter(Boolean).join('/');
    super(`${operation} ${target.kind}${where ? ' ' + where : ''} failed: ${statusCode ?? 'no response'} ${status?.message ?? messageOf(cause)}`, {
      cause,
    });
    this.operation = operation;
    this.kind = target.kind;
    this.namespace = target.namespace;
    this.objectName = target.name;
    this.statusCode = statusCode;
    this.reason = status?.reason;
    this.timedOut = isTimeout(cause);
  }
}

/**
 * The HTTP status of an error from client-node: ApiException has `code`, its watch errors `statusCode`. A request
 * aborted by its timeout rejects with a DOMException, whose legacy numeric `code` (23 for TimeoutError) is no
 * HTTP status, hence the range check.
 */
export function httpStatusOf(err: unknown): number | undefined {
  if (err instanceof KubeApiError) return err.statusCode;
  const e = err as { code?: unknown; statusCode?: unknown } | null | undefined;
  const isHttp = (v: unknown): v is number => typeof v === 'number' && v >= 100 && v <= 599;
  if (isHttp(e?.code)) return e.code;
  if (isHttp(e?.statusCode)) return e.statusCode;
  return undefined;
}

/** The request was ended by its own timeout (or another deadline), not answered. */
export function isTimeout(err: unknown): boolean {
  const name = (err as { name?: unknown } | null | undefined)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

function statusBodyOf(err: unknown): { message?: string; reason?: string } | undefined {
  const body = (err as { body?: unknown } | null | undefined)?.body;
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as { message?: string; reason?: string };
    } catch {
      return { message: body };
    }
  }
  return body && typeof body === 'object' ? (body as { message?: string; reason?: string }) : undefined;
}

/**
 * The message of anything thrown. Errors from client-node come from another realm under jest (and are plain
 * objects in some paths), so `instanceof Error` is not a reliable test.
 */
export function messageOf(err: unknown): string {
  const message = (err as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : String(err);
}

export const isNotFound = (err: unknown): boolean => httpStatusOf(err) === 404;
export const isConflict = (err: unknown): boolean => httpStatusOf(err) === 409;
