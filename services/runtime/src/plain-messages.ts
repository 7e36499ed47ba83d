import type { z } from 'zod';

type Issue = z.core.$ZodRawIssue;

/** ` (got "abc")` for a value worth echoing back (short text, a finite number); nothing otherwise. */
function got(input: unknown): string {
  if (typeof input === 'string' && input.length <= 60) return ` (got "${input}")`;
  if (typeof input === 'number' && Number.isFinite(input)) return ` (got ${input})`;
  return '';
}

const KINDS: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'text',
  boolean: 'true or false',
  object: 'a JSON object',
  array: 'a list',
};

const FORMATS: Record<string, string> = { uuid: 'a UUID', url: 'a URL', email: 'an e-mail address', datetime: 'an ISO 8601 date and time' };

/**
 * What a person reads instead of zod's defaults ("Invalid input: expected number, received NaN"): what the value
 * must be, and what it was when that helps. Messages a schema gives itself ("must be a lower-case SQL identifier")
 * take precedence over these; codes not listed keep zod's wording. Pass as `safeParse(data, { error: plainMessage })`.
 */
export function plainMessage(issue: Issue): string | undefined {
  const input = issue.input;
  switch (issue.code) {
    case 'invalid_type': {
      if (input === undefined) return 'is required';
      const kind = KINDS[issue.expected] ?? issue.expected;
      // A number read from text that was not one: coercion turned it into NaN, so say what it must be.
      return `must be ${kind}${got(input)}`;
    }
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => String(v)).join(', ')}${got(input)}`;
    case 'too_small':
      if (issue.origin === 'string') return Number(issue.minimum) <= 1 ? 'must not be empty' : `must be at least ${issue.minimum} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must have at least ${issue.minimum} item${Number(issue.minimum) === 1 ? '' : 's'}`;
      return `must be ${issue.inclusive === false ? 'greater than' : 'at least'} ${issue.minimum}${got(input)}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${issue.maximum} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must have at most ${issue.maximum} items`;
      return `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${issue.maximum}${got(input)}`;
    case 'invalid_format':
      return `must be ${FORMATS[issue.format] ?? `in ${issue.format} format`}${got(input)}`;
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}${got(input)}`;
    case 'unrecognized_keys':
      return 'is not an allowed field';
    default:
      return undefined;
  }
}
