// The results table, printed as text and written into BENCHMARKS.md between generated-section markers (the rest
// of the file is kept as it is). Its rows come from report-rows.ts.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export const BEGIN = '<!-- BEGIN GENERATED: npm run bench (scripts/bench/run.ts); edits inside are overwritten -->';
export const END = '<!-- END GENERATED: npm run bench -->';

export interface Row {
  measure: string;
  figure: string;
  limit: string;
  ratio: string;
  target: string;
  result: string;
}

const COLUMNS: Array<[keyof Row, string]> = [
  ['measure', 'measure'],
  ['figure', 'figure'],
  ['limit', 'raw limit (same run)'],
  ['ratio', 'ratio'],
  ['target', 'target (DESIGN.md)'],
  ['result', 'result'],
];

export function textTable(rows: Row[]): string {
  const widths = COLUMNS.map(([key, title]) => Math.max(title.length, ...rows.map((r) => r[key].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(COLUMNS.map(([, t]) => t)), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(COLUMNS.map(([k]) => r[k])))].join('\n');
}

export function markdownTable(rows: Row[]): string {
  const esc = (v: string) => v.replace(/\|/g, '\\|');
  return [
    `| ${COLUMNS.map(([, t]) => t).join(' | ')} |`,
    `|${COLUMNS.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${COLUMNS.map(([k]) => esc(r[k])).join(' | ')} |`),
  ].join('\n');
}

/** Replaces the generated section of `file` (or appends one), keeping everything else. */
export function writeGeneratedSection(file: string, body: string): void {
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const section = `${BEGIN}\n${body.trim()}\n${END}`;
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  let next;
  if (start >= 0 && end > start) next = `${current.slice(0, start)}${section}${current.slice(end + END.length)}`;
  else if (start >= 0 || end >= 0) throw new Error(`${file} has only one of the generated-section markers; fix it by hand`);
  else next = `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}
