// Everything a benchmark creates (schemas, streams, processes, files) registers its own undo here; undo runs in
// reverse order at the end, on failure, and on Ctrl-C. Child processes are also SIGKILLed synchronously when
// this process exits, whatever the reason, so no stray relay or service outlives a run.

const tasks = [];
const children = new Set();
let running = null;

/** Registers `undo` (async) under `label`; returns a function that runs it now and unregisters it. */
export function onCleanup(label, undo) {
  const task = { label, undo, done: false };
  tasks.push(task);
  return async () => {
    if (task.done) return;
    task.done = true;
    await undo();
  };
}

/** Tracks a spawned child so it is killed on exit even if no cleanup ran. */
export function trackChild(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** True once clean-up started (errors of work still running then are expected: its resources are going away). */
export function isCleaningUp() {
  return running !== null;
}

/** Runs every registered undo, newest first; failures are reported and do not stop the others. */
export function cleanupAll(log = (line) => process.stderr.write(`${line}\n`)) {
  running ??= (async () => {
    for (const task of tasks.reverse()) {
      if (task.done) continue;
      task.done = true;
      try {
        await withTimeout(task.undo(), 15_000, task.label);
      } catch (error) {
        log(`  clean-up of ${task.label} failed: ${error.message}`);
      }
    }
  })();
  return running;
}

function withTimeout(promise, ms, label) {
  let timer;
  return Promise.race([
    Promise.resolve(promise).finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${label}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * Ctrl-C / SIGTERM: undo everything, then exit 130 (a second signal exits at once). An error that escaped every
 * handler also undoes everything before exiting 1, so no schema or stream is left behind.
 */
export function installProcessHandlers(log) {
  let signalled = false;
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      if (signalled) process.exit(130);
      signalled = true;
      log(`\n${signal}: cleaning up what the benchmark created...`);
      cleanupAll(log).finally(() => process.exit(130));
    });
  }
  const fatal = (error) => {
    log(`\nunexpected error: ${error?.stack ?? error}; cleaning up...`);
    cleanupAll(log).finally(() => process.exit(1));
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}
