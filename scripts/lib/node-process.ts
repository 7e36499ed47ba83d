// A built service (services/*/dist) started by a script: its output in `<runDir>/<name>.log`, stopped by the
// run's clean-up (SIGTERM, then SIGKILL after a grace period) and killed if the script exits first.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { isRunning, ROOT, startService, type ServiceProcess } from '@outbox-relay/test-support';
import { onCleanup, trackChild } from './cleanup';

export interface NodeProcess extends ServiceProcess {
  readonly name: string;
  readonly logFile: string;
  readonly pid: number;
  alive(): boolean;
  /** Stops it now and takes it off the clean-up. */
  remove(): Promise<void>;
}

export interface NodeProcessOptions {
  runDir: string;
  /** Between SIGTERM and SIGKILL when it is stopped. */
  graceMs: number;
  nodeArgs?: string[];
  /** Keep its JSON log lines in `logs` (default true). */
  collectLogs?: boolean;
}

/** `node <script>` (absolute, or relative to the repository) with `env` added to this process's environment. */
export function startNodeProcess(name: string, script: string, env: Record<string, string>, options: NodeProcessOptions): NodeProcess {
  if (!existsSync(path.resolve(ROOT, script))) throw new Error(`${script} is not built: run \`npm run build\` first`);
  const logFile = path.join(options.runDir, `${name}.log`);
  const proc = startService(script, env, { logFile, cwd: ROOT, nodeArgs: options.nodeArgs ?? [], collectLogs: options.collectLogs ?? true });
  trackChild(proc.child);
  const pid = proc.child.pid ?? 0;
  const remove = onCleanup(`process ${name} (pid ${pid})`, () => proc.terminate(options.graceMs));
  return { ...proc, name, logFile, pid, alive: () => isRunning(proc.child), remove };
}
