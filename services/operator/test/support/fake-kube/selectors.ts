import type { JsonObject } from './json';
/** Label and field selectors as the API server parses them (equality and set-based forms). */
export type Labels = Record<string, string>;
export type LabelPredicate = (labels: Labels | undefined) => boolean;

export class SelectorError extends Error {}

export function parseLabelSelector(selector: string | undefined): LabelPredicate {
  if (!selector) return () => true;
  const tests = splitTopLevel(selector).map(parseRequirement);
  return (labels) => tests.every((t) => t(labels ?? {}));
}

function parseRequirement(raw: string): (labels: Labels) => boolean {
  const req = raw.trim();
  let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(req);
  if (m) {
    const [, key = '', op, list = ''] = m;
    const values = new Set(list.split(',').map((v) => v.trim()));
    return op === 'in' ? (l) => key in l && values.has(l[key] ?? '') : (l) => !(key in l) || !values.has(l[key] ?? '');
  }
  m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(req);
  if (m) {
    const [, key = '', op, value = ''] = m;
    return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
  }
  m = /^(!?)([\w./-]+)$/.exec(req);
  if (m) {
    const [, not, key = ''] = m;
    return not ? (l) => !(key in l) : (l) => key in l;
  }
  throw new SelectorError(`unable to parse requirement: ${req}`);
}

/** Splits on commas that are not inside a parenthesised value list. */
function splitTopLevel(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.filter((p) => p.trim() !== '');
}

/**
 * Field selectors as the API server takes them: metadata.name and metadata.namespace on every resource, and the
 * fields a resource adds (`type` on Secrets); any other is refused, as the real server refuses it.
 */
export function parseFieldSelector(selector: string | undefined, plural = ''): (object: JsonObject) => boolean {
  if (!selector) return () => true;
  const extra = EXTRA_FIELD_LABELS[plural] ?? [];
  const tests = selector.split(',').map((req) => {
    const m = /^([a-zA-Z.]+)\s*(==|=|!=)\s*(.*)$/.exec(req.trim());
    const field = m?.[1] ?? '';
    if (!m || !(field === 'metadata.name' || field === 'metadata.namespace' || extra.includes(field))) {
      throw new SelectorError(`field label not supported: ${req}`);
    }
    const [, , op, value] = m;
    return (object: JsonObject) => {
      let actual: unknown = object;
      for (const part of field.split('.')) actual = (actual as JsonObject | undefined)?.[part];
      const text = actual === undefined ? '' : String(actual);
      return op === '!=' ? text !== value : text === value;
    };
  });
  return (object) => tests.every((t) => t(object));
}

/** Field labels beyond metadata.name/namespace, per resource (the API server's own lists). */
const EXTRA_FIELD_LABELS: Record<string, readonly string[]> = { secrets: ['type'] };
