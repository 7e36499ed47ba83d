import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from './wait';

export const ROOT = path.resolve(__dirname, '..', '..');
/** The loader that lets `node -r` run the repository's TypeScript (swc, workspace aliases), as jest does. */
export const REGISTER_TS = path.join(ROOT, 'test', 'support', 'register-ts.cjs');

/** A built service started as a real process, with its JSON log lines collected. */
export interface ServiceProcess {
  child: ChildProcess;
  logs: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Sends `signal` (if it still runs) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGTERM, then SIGKILL when it is still there after `graceMs`; resolves once it is gone. */
  terminate(graceMs: number): Promise<void>;
}

export interface StartServiceOptions {
  /** Also append everything the process writes (stdout and stderr) to this file. */
  logFile?: string;
  /** node's own flags, before the script (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Parse stdout into `logs` (default true); off where the output only goes to `logFile` and is never read. */
  collectLogs?: boolean;
  cwd?: string;
}

/** Runs `node <script>` (relative to the repository, or absolute) with `env` added to this process's environment. */
export function startService(script: string, env: Record<string, string>, options: StartServiceOptions = {}): ServiceProcess {
  const file = path.resolve(ROOT, script);
  if (!existsSync(file)) throw new Error(`${script} is not built: run \`npm run build\` (make test does)`);
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), file], {
    cwd: options.cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = options.logFile === undefined ? null : createWriteStream(options.logFile, { flags: 'a' });
  const logs: Array<Record<string, unknown>> = [];
  if (options.collectLogs ?? true) collectJsonLines(child, logs);
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => out?.write(chunk));
  child.stderr!.on('data', (chunk: Buffer) => {
    out?.write(chunk);
    stderr += chunk.toString();
  });
  // Output can still arrive after 'exit'; 'close' comes once both pipes are drained.
  child.once('close', () => out?.end());
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      if (stderr && process.env.TEST_LOG_LEVEL) process.stderr.write(stderr);
      resolve(code);
    }),
  );
  return {
    child,
    logs,
    exited,
    stderr: () => stderr,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (isRunning(child)) child.kill(signal);
      return exited;
    },
    terminate: (graceMs: number) => terminate(child, graceMs),
  };
}

/** Neither exited nor killed by a signal yet. */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM, then SIGKILL when `child` is still there after `graceMs`; resolves once it is gone. */
export async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (!isRunning(child)) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** Each line of the child's stdout as parsed JSON, or `{ msg: line }` when it is not JSON. */
function collectJsonLines(child: ChildProcess, logs: Array<Record<string, unknown>>): void {
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line });
      }
    }
  });
}

/** GET `url` as JSON; undefined when nothing answers within `timeoutMs` or the status is not 2xx. */
export async function getJson<T>(url: string, timeoutMs = 300): Promise<T | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? ((await res.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The port a service started with port 0 listens on, read from the log line (`msg`) that announces it. A port
 * picked in advance (listen on 0, close, hand it over) can be taken in between, e.g. as the local port of an
 * outgoing connection, and the service then dies with EADDRINUSE.
 */
export async function listeningPort(proc: ServiceProcess, msg: string, timeoutMs = 30_000): Promise<number> {
  return waitFor(`a "${msg}" log line with the port`, () => {
    if (!isRunning(proc.child)) throw new Error(`the process exited (${proc.child.exitCode ?? proc.child.signalCode}) before listening: ${proc.stderr()}`);
    const line = proc.logs.find((l) => l.msg === msg && typeof l.port === 'number');
    return line ? (line.port as number) : undefined;
  }, timeoutMs);
}
