// What the demos print: a short narrative, one line per check, and the summary that decides the exit code.

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export type Paint = (text: string) => string;

export interface DemoOutput {
  green: Paint;
  red: Paint;
  yellow: Paint;
  dim: Paint;
  bold: Paint;
  say(text?: string): void;
  step(text: string): void;
  /** The checks the summary reports; the exit code is 1 if any failed. */
  readonly checks: Check[];
  check(name: string, ok: boolean, detail?: string): boolean;
  /**
   * Prints every check and the verdict (`extra` follows the count, e.g. a measured figure); true when all passed.
   * `logs` is where a failed run's logs are.
   */
  summary(extra: string, logs: string): boolean;
}

export function createOutput(color: boolean): DemoOutput {
  const paint = (code: string): Paint => (text) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const green = paint('32');
  const red = paint('31');
  const dim = paint('2');
  const bold = paint('1');
  const say = (text = '') => void process.stdout.write(`${text}\n`);
  const checks: Check[] = [];
  return {
    green,
    red,
    yellow: paint('33'),
    dim,
    bold,
    say,
    step: (text) => say(`${dim('•')} ${text}`),
    checks,
    check(name, ok, detail = '') {
      checks.push({ name, ok, detail });
      say(`  ${ok ? green('✓') : red('✗')} ${name}${detail ? dim(` — ${detail}`) : ''}`);
      return ok;
    },
    summary(extra, logs) {
      say();
      say(bold('Summary'));
      const width = Math.max(...checks.map((c) => c.name.length));
      for (const c of checks) say(`  ${c.ok ? green('PASS') : red('FAIL')}  ${c.name.padEnd(width)}  ${dim(c.detail)}`);
      const failed = checks.filter((c) => !c.ok).length;
      say();
      if (failed === 0 && checks.length > 0) say(green(bold(`All ${checks.length} checks passed.${extra}`)));
      else say(red(bold(`${failed} of ${checks.length} checks failed.${extra} Logs: ${logs}`)));
      return failed === 0 && checks.length > 0;
    },
  };
}
