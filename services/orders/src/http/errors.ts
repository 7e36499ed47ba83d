import { HttpError } from '@outbox-relay/runtime';

const PG_UNAVAILABLE = /^(08|53|57P)/;
const NET_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

/** Postgres unreachable, overloaded or shutting down: the request may succeed on a retry. */
function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (PG_UNAVAILABLE.test(code) || NET_UNAVAILABLE.has(code))) return true;
  return typeof message === 'string' && /timeout exceeded when trying to connect|Connection terminated/.test(message);
}

/** A database outage is 503 with Retry-After, not a 500: the client should retry, nobody needs paging per request. */
export function databaseUnavailableAs503(error: unknown): HttpError | null {
  if (!isDatabaseUnavailable(error)) return null;
  return new HttpError(503, { error: 'unavailable', message: 'database unavailable, retry later' }, { 'Retry-After': '1' });
}
