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

/** Field selectors: only metadata.name and metadata.namespace, which every resource supports. */
export function parseFieldSelector(selector: string | undefined): (meta: { name?: string; namespace?: string }) => boolean {
  if (!selector) return () => true;
  const tests = selector.split(',').map((req) => {
    const m = /^metadata\.(name|namespace)\s*(==|=|!=)\s*(.*)$/.exec(req.trim());
    if (!m) throw new SelectorError(`field label not supported: ${req}`);
    const [, field, op, value] = m;
    return (meta: { name?: string; namespace?: string }) => {
      const actual = field === 'name' ? meta.name : meta.namespace;
      return op === '!=' ? actual !== value : actual === value;
    };
  });
  return (meta) => tests.every((t) => t(meta));
}
