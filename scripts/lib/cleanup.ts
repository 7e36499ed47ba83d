// Everything a script creates (schemas, streams, servers, processes, files) registers its own undo here; undo runs in
// reverse order at the end, on failure, and on Ctrl-C. Child processes are also SIGKILLed synchronously when
// this process exits, whatever the reason, so no stray relay or service outlives a run.
import type { ChildProcess } from 'node:child_process';

export type Log = (line?: string) => void;

interface Task {
  label: string;
  undo: () => unknown;
  done: boolean;
}

const tasks: Task[] = [];
const children = new Set<ChildProcess>();
let running: Promise<void> | null = null;

const toStderr: Log = (line = '') => process.stderr.write(`${line}\n`);

/** Registers `undo` under `label`; returns a function that runs it now and unregisters it. */
export function onCleanup(label: string, undo: () => unknown): () => Promise<void> {
  const task: Task = { label, undo, done: false };
  tasks.push(task);
  return async () => {
    if (task.done) return;
    task.done = true;
    await undo();
  };
}

/** Tracks a spawned child so it is killed on exit even if no clean-up ran. */
export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** True once clean-up started (errors of work still running then are expected: its resources are going away). */
export function isCleaningUp(): boolean {
  return running !== null;
}

/** Runs every registered undo, newest first; failures are reported and do not stop the others. */
export function cleanupAll(log: Log = toStderr): Promise<void> {
  running ??= (async () => {
    for (const task of tasks.reverse()) {
      if (task.done) continue;
      task.done = true;
      try {
        await withTimeout(Promise.resolve(task.undo()), 15_000, task.label);
      } catch (error) {
        log(`  clean-up of ${task.label} failed: ${errorMessage(error)}`);
      }
    }
  })();
  return running;
}

function withTimeout<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${label}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Ctrl-C / SIGTERM: SIGTERM to every child at once (they stop side by side), undo everything, then exit 130 (a
 * second signal exits at once). An error that escaped every handler also undoes everything before exiting 1, so no
 * schema or stream is left behind. `stopping` says what happens, after the signal's name.
 */
export function installProcessHandlers(log: Log, stopping: string): void {
  let signalled = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (signalled) process.exit(130);
      signalled = true;
      log(`\n${signal}: ${stopping}`);
      for (const child of children) child.kill('SIGTERM');
      void cleanupAll(log).finally(() => process.exit(130));
    });
  }
  const fatal = (error: unknown) => {
    log(`\nunexpected error: ${error instanceof Error ? error.stack : String(error)}; cleaning up...`);
    void cleanupAll(log).finally(() => process.exit(1));
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}

/** An error's message, or the thrown value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs a script's `main` and exits with the code it returns. An error that escapes it is printed as
 * `<name>: <stack>` and everything is undone before exiting 1; after Ctrl-C the signal handler exits instead (the
 * clean-up removes what running work still uses, so its errors are expected).
 */
export function runScript(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    async (error: unknown) => {
      if (isCleaningUp()) return;
      process.stderr.write(`${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      await cleanupAll();
      process.exit(1);
    },
  );
}
