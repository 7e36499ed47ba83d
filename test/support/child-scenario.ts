/**
 * Runs a scenario in a child node process, for faults whose symptom is a dead process: an `'error'` event
 * nobody listens to, an unhandled rejection. Inside jest those are caught by jest's own handlers (or kill the
 * worker and every test on it), so "the process survives" can only be asserted from outside.
 *
 * A scenario is a function exported by a test file: `(input) => Promise<result>` with JSON input and result.
 * The parent calls `runScenario(__filename, 'name', input)`; the child (`node -r register-ts.cjs` on this file)
 * loads that test file, runs the function, prints the result on one marked stdout line and then exits on its
 * own once nothing is left to do (no `process.exit`), so a late crash still shows in the exit code.
 *
 * A test file that also holds scenarios declares its tests with `inTestRunner(() => { ... })`: in the child
 * the file is only loaded for its exports, and jest's globals do not exist there.
 *
 * A scenario that the parent must act on while it runs (freeze it with SIGSTOP at a given step, change the network
 * under it) is started with `startScenario`: the child announces a step with `tellParent(mark, value)`, the parent
 * awaits it with `running.heard(mark)`, and answers with `running.tell(mark)`, which the child awaits with
 * `hearFromParent(mark)`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { REGISTER_TS, ROOT } from './processes';

const FILE_VARIABLE = 'CHILD_SCENARIO_FILE';
const NAME_VARIABLE = 'CHILD_SCENARIO_NAME';
const INPUT_VARIABLE = 'CHILD_SCENARIO_INPUT';
const RESULT_MARK = 'CHILD_SCENARIO_RESULT ';
const STEP_MARK = 'CHILD_SCENARIO_STEP ';

export interface ScenarioRun<R> {
  /** Exit code (null when killed by a signal, see `signal`). 0 = ended on its own, nothing unhandled. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The scenario's result, if it got that far. */
  result: R | undefined;
  stdout: string;
  stderr: string;
  /** The child did not end within the time allowed and was killed. */
  timedOut: boolean;
}

/** True inside a scenario child. */
export function isScenarioChild(): boolean {
  return process.env[FILE_VARIABLE] !== undefined;
}

/** Declares a test file's tests in jest, and nothing in a scenario child (which loads the file for its scenarios). */
export function inTestRunner(declare: () => void): void {
  if (!isScenarioChild()) declare();
}

/** Runs scenario `name` exported by `file` (usually `__filename`) in a child process and waits for it to end. */
export function runScenario<I, R>(file: string, name: string, input: I, options: { timeoutMs?: number } = {}): Promise<ScenarioRun<R>> {
  return startScenario<I, R>(file, name, input, options).ended;
}

/** A scenario child still running: its steps can be awaited and answered, and it can be sent signals. */
export interface RunningScenario<R> {
  readonly child: ChildProcess;
  /** The value the child passed to `tellParent(mark, value)`; rejects if the child ends first. */
  heard<T>(mark: string): Promise<T>;
  /** Lets a child waiting in `hearFromParent(mark)` go on. */
  tell(mark: string): void;
  readonly ended: Promise<ScenarioRun<R>>;
}

/** Starts scenario `name` in a child process, for a parent that acts on it while it runs. */
export function startScenario<I, R>(file: string, name: string, input: I, options: { timeoutMs?: number } = {}): RunningScenario<R> {
  const child = spawn(process.execPath, ['-r', REGISTER_TS, __filename], {
    cwd: ROOT,
    env: { ...process.env, [FILE_VARIABLE]: file, [NAME_VARIABLE]: name, [INPUT_VARIABLE]: JSON.stringify(input) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const steps = new Map<string, unknown>();
  const stepListeners = new Set<() => void>();
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    stdout += `${line}\n`;
    if (!line.startsWith(STEP_MARK)) return;
    const rest = line.slice(STEP_MARK.length);
    const space = rest.indexOf(' ');
    steps.set(rest.slice(0, space), JSON.parse(rest.slice(space + 1)));
    for (const listener of stepListeners) listener();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.on('error', () => undefined);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 30_000);
  const ended = new Promise<ScenarioRun<R>>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      child.stdin.destroy();
      for (const listener of stepListeners) listener();
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
      const result = line === undefined ? undefined : (JSON.parse(line.slice(RESULT_MARK.length)) as R);
      resolve({ code, signal, result, stdout, stderr, timedOut });
    });
  });
  let exited = false;
  void ended.then(() => (exited = true), () => (exited = true));
  return {
    child,
    ended,
    heard<T>(mark: string): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          if (steps.has(mark)) resolve(steps.get(mark) as T);
          else if (exited || child.exitCode !== null || child.signalCode !== null) reject(new Error(`the scenario ended before step '${mark}':\n${stderr}`));
          else return;
          stepListeners.delete(check);
        };
        stepListeners.add(check);
        check();
      });
    },
    tell(mark: string): void {
      child.stdin.write(`${mark}\n`);
    },
  };
}

/** In a scenario child: announces step `mark` with `value` to the parent (see `RunningScenario.heard`). */
export function tellParent(mark: string, value: unknown = null): void {
  if (mark.includes(' ')) throw new Error(`a step mark has no spaces: '${mark}'`);
  process.stdout.write(`\n${STEP_MARK}${mark} ${JSON.stringify(value)}\n`);
}

let parentLines: readline.Interface | null = null;
const heardFromParent = new Set<string>();
const parentListeners = new Set<() => void>();

/** In a scenario child: waits until the parent calls `tell(mark)`. */
export function hearFromParent(mark: string): Promise<void> {
  parentLines ??= readline.createInterface({ input: process.stdin }).on('line', (line) => {
    heardFromParent.add(line.trim());
    for (const listener of parentListeners) listener();
  });
  return new Promise((resolve) => {
    const check = () => {
      if (!heardFromParent.has(mark)) return;
      parentListeners.delete(check);
      resolve();
    };
    parentListeners.add(check);
    check();
  });
}

/** What a settled promise gave, in JSON: the value, or the error's class, code and message. */
export type Settled<T> = { status: 'fulfilled'; value: T } | { status: 'rejected'; error: { name: string; code?: string; message: string } };

export function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (error: unknown) => {
      const e: Error & { code?: unknown } = error instanceof Error ? error : new Error(String(error));
      return { status: 'rejected', error: { name: e.name, code: typeof e.code === 'string' ? e.code : undefined, message: e.message } };
    },
  );
}

async function childMain(): Promise<void> {
  const file = process.env[FILE_VARIABLE]!;
  const name = process.env[NAME_VARIABLE]!;
  const scenario = (require(file) as Record<string, unknown>)[name];
  if (typeof scenario !== 'function') throw new Error(`${file} exports no scenario ${name}`);
  const result: unknown = await scenario(JSON.parse(process.env[INPUT_VARIABLE] ?? 'null'));
  process.stdout.write(`\n${RESULT_MARK}${JSON.stringify(result ?? null)}\n`);
  // The pipe from the parent would keep the process alive: it ends on its own once nothing else is left.
  parentLines?.close();
  process.stdin.destroy();
}

if (require.main === module) {
  childMain().catch((error: unknown) => {
    process.stderr.write(`scenario failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 3;
  });
}
