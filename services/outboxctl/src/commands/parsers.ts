import { InvalidArgumentError } from 'commander';

/**
 * Option value parsers. commander reports their errors as
 * `option '--flag <value>' argument 'x' is invalid. <message>`, so the flag is always named; the CLI exits 2.
 */
export function integer(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = /^-?[0-9]+$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    }
    return n;
  };
}

/** A repeatable integer option that also takes comma-separated lists: `--partition 0 --partition 2,3`. */
export function integerList(min: number, max: number): (value: string, previous: number[] | undefined) => number[] {
  const one = integer(min, max);
  return (value, previous) => [...(previous ?? []), ...value.split(',').map((part) => one(part))];
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * An ISO 8601 date (midnight UTC) or date-time WITH a zone: a time without one would mean different instants on
 * the operator's laptop and the database server.
 */
export function isoTime(value: string): Date {
  const text = value.trim();
  const date = ISO_DATE.exec(text);
  const at = date || ISO_TIME.test(text) ? new Date(date ? `${text}T00:00:00Z` : text) : null;
  // Date() rolls 2026-02-30 over to March; a round trip of the date part catches that.
  if (!at || Number.isNaN(at.getTime()) || (date && at.toISOString().slice(0, 10) !== text)) {
    throw new InvalidArgumentError('expected an ISO 8601 date or a date-time with a zone, e.g. 2026-11-23 or 2026-11-23T16:00:00Z.');
  }
  return at;
}
