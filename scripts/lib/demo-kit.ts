// What both local demos (demo-local.ts, demo-payments.ts) need besides their scenario: output and checks, the
// built services as child processes that are always cleaned up, waits that explain themselves, and the run's
// ending (clean-up, summary, exit code). The servers they start when none is given are in demo-servers.ts.
import path from 'node:path';
import { listeningPort as portFromLog, ROOT, waitFor as poll, WaitTimeoutError } from '@outbox-relay/test-support';
import { cleanupAll, installProcessHandlers } from './cleanup';
import { createOutput, type DemoOutput } from './demo-output';
import { startNodeProcess, type NodeProcess } from './node-process';

/** A failure the demo explains itself (printed without a stack). */
export class DemoError extends Error {}

/** `waitFor` of the test support, its timeout a DemoError (what timed out says it all). */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 25): Promise<T> {
  try {
    return await poll(what, check, timeoutMs, everyMs);
  } catch (error) {
    throw error instanceof WaitTimeoutError ? new DemoError(error.message) : error;
  }
}

export interface DemoKitOptions {
  /** Where the children's logs go. */
  runDir: string;
  /** Of each wait that names none. */
  defaultTimeoutMs: number;
  color: boolean;
}

export interface DemoKit extends DemoOutput {
  waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs?: number, everyMs?: number): Promise<T>;
  /** A built node service, its stdout and stderr in `<runDir>/<name>.log`, its JSON lines in `logs`. */
  startNodeService(name: string, script: string, env: Record<string, string>): NodeProcess;
  /** The port a service started with port 0 listens on, from the log line `msg` that announces it. */
  listeningPort(proc: NodeProcess, msg: string): Promise<number>;
  describeExit(proc: NodeProcess): string;
  /**
   * Runs the scenario, then stops everything, prints the summary (`extra(result)` after the count) and exits: 0
   * when every check passed and the scenario ran to its end, else 1.
   */
  run<R>(scenario: () => Promise<R>, extra: (result: R | undefined) => string): Promise<never>;
}

/** Installs exit and signal handlers that stop everything the demo started. */
export function createDemoKit({ runDir, defaultTimeoutMs, color }: DemoKitOptions): DemoKit {
  const output = createOutput(color);
  const { say, dim, red, step, checks } = output;
  const cleanup = () => cleanupAll((line = '') => say(dim(line)));
  installProcessHandlers(say, 'stopping everything the demo started…');

  const describeExit = (proc: NodeProcess) =>
    `${proc.name} exited (${proc.child.signalCode ?? `code ${proc.child.exitCode}`}); see ${path.relative(ROOT, proc.logFile)}`;

  return {
    ...output,
    waitFor: (what, check, timeoutMs = defaultTimeoutMs, everyMs = 25) => waitFor(what, check, timeoutMs, everyMs),
    startNodeService: (name, script, env) => startNodeProcess(name, script, env, { runDir, graceMs: 5000 }),
    async listeningPort(proc, msg) {
      try {
        return await portFromLog(proc, msg, defaultTimeoutMs);
      } catch {
        throw new DemoError(proc.alive() ? `timed out after ${defaultTimeoutMs} ms waiting for ${proc.name} to listen` : describeExit(proc));
      }
    },
    describeExit,
    async run<R>(scenario: () => Promise<R>, extra: (result: R | undefined) => string): Promise<never> {
      let result: R | undefined;
      let fatal = false;
      try {
        result = await scenario();
      } catch (error) {
        fatal = true;
        checks.push({ name: 'demo ran to the end', ok: false, detail: error instanceof DemoError ? (error.message.split('\n')[0] ?? '') : String(error) });
        say();
        say(red(`demo stopped: ${error instanceof DemoError ? error.message : error instanceof Error ? (error.stack ?? String(error)) : String(error)}`));
      }
      say();
      step('stopping every process the demo started…');
      await cleanup();
      const ok = output.summary(extra(result), path.relative(process.cwd(), runDir)) && !fatal;
      process.exit(ok ? 0 : 1);
    },
  };
}
