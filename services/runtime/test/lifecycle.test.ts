/**
 * How every process ends: once, bounded, with the exit code that tells its supervisor what happened. Each case
 * runs in a child process, since ending the process is the behaviour under test.
 */
import { createLogger, exitOnUncaught, ProcessShutdown } from '@outbox-relay/runtime';
import { inTestRunner, runScenario } from '@outbox-relay/test-support';

type Case = 'signal' | 'second-signal' | 'failing-step' | 'hanging-step' | 'run-twice' | 'uncaught';

/** The scenario: a process whose stop steps behave as `input` says, stopped by a signal or by run(). */
export async function endProcess(input: Case): Promise<void> {
  const logger = createLogger('lifecycle-test', 'info');
  if (input === 'uncaught') {
    exitOnUncaught(logger);
    // A line large enough to still be on its way through the pipe (written by a worker thread) when the exception
    // comes: the fatal line must wait for it, not overtake it or cut it in half.
    logger.info({ filler: 'x'.repeat(1024 * 1024) }, 'working');
    setImmediate(() => {
      throw new Error('a bug nobody caught');
    });
    await new Promise(() => setInterval(() => undefined, 1000));
  }
  const shutdown = new ProcessShutdown({
    logger,
    timeoutMs: input === 'hanging-step' ? 200 : 60_000,
    stop: async (reason) => {
      logger.info({ reason }, 'stop step');
      if (input === 'failing-step') throw new Error('the pool would not close');
      // A step that never ends (a dependency that hangs), or one that is still running when a second signal comes.
      if (input === 'hanging-step' || input === 'second-signal') {
        if (input === 'second-signal') process.kill(process.pid, 'SIGTERM');
        await new Promise(() => setInterval(() => undefined, 1000));
      }
    },
  }).onSignals();
  if (input === 'run-twice') {
    void shutdown.run('first', 3);
    void shutdown.run('second', 4);
    return;
  }
  process.kill(process.pid, 'SIGTERM');
  await new Promise(() => setInterval(() => undefined, 1000));
}

inTestRunner(() => {
  const messages = (stdout: string) =>
    stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; reason?: string; exitCode?: number });

  it('stops once on SIGTERM, logs why and how long it took, and exits 0', async () => {
    const run = await runScenario<Case, void>(__filename, 'endProcess', 'signal');
    expect(run.code).toBe(0);
    const lines = messages(run.stdout);
    expect(lines.map((l) => l.msg)).toEqual(['shutting down', 'stop step', 'shut down']);
    expect(lines[0]!.reason).toBe('SIGTERM');
  });

  it('exits 1 at once on a second signal while stopping', async () => {
    const run = await runScenario<Case, void>(__filename, 'endProcess', 'second-signal');
    expect(run.code).toBe(1);
    expect(messages(run.stdout).map((l) => l.msg)).toEqual(['shutting down', 'stop step', 'second signal during shutdown; exiting now']);
  });

  it('exits 1 when a stop step fails, after logging it', async () => {
    const run = await runScenario<Case, void>(__filename, 'endProcess', 'failing-step');
    expect(run.code).toBe(1);
    expect(messages(run.stdout).map((l) => l.msg)).toEqual(['shutting down', 'stop step', 'shutdown failed', 'shut down']);
  });

  it('exits 1 when stopping outlasts its timeout', async () => {
    const run = await runScenario<Case, void>(__filename, 'endProcess', 'hanging-step');
    expect(run.code).toBe(1);
    expect(messages(run.stdout).map((l) => l.msg)).toEqual(['shutting down', 'stop step', 'shutdown did not finish in time; exiting']);
  });

  it('runs once when asked twice, with the first exit code', async () => {
    const run = await runScenario<Case, void>(__filename, 'endProcess', 'run-twice');
    expect(run.code).toBe(3);
    const lines = messages(run.stdout);
    expect(lines.filter((l) => l.msg === 'shutting down').map((l) => l.reason)).toEqual(['first']);
    expect(lines.at(-1)).toMatchObject({ msg: 'shut down', exitCode: 3 });
  });

  it('logs an uncaught exception as its last line and exits 1', async () => {
    const run = await runScenario<Case, void>(__filename, 'endProcess', 'uncaught');
    expect(run.code).toBe(1);
    const lines = messages(run.stdout) as Array<{ msg: string; err?: { message: string } }>;
    expect(lines.map((l) => l.msg)).toEqual(['working', 'uncaught exception']);
    expect(lines[1]!.err?.message).toBe('a bug nobody caught');
  });
});
