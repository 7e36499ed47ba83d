import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from './nats';

export const ROOT = path.resolve(__dirname, '..', '..');

/** A built service started as a real process, with its JSON log lines collected. */
export interface ServiceProcess {
  child: ChildProcess;
  logs: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startService(relativeScript: string, env: Record<string, string>): ServiceProcess {
  const script = path.join(ROOT, relativeScript);
  if (!existsSync(script)) throw new Error(`${relativeScript} is not built: run \`npm run build\` (make test does)`);
  const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
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
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
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
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export async function getJson<T>(url: string): Promise<T | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(300) });
    return res.ok ? ((await res.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

export { waitFor };

/**
 * The port a service started with port 0 listens on, read from the log line (`msg`) that announces it. A port
 * picked in advance (listen on 0, close, hand it over) can be taken in between, e.g. as the local port of an
 * outgoing connection, and the service then dies with EADDRINUSE.
 */
export async function listeningPort(proc: ServiceProcess, msg: string, timeoutMs = 30_000): Promise<number> {
  return waitFor(`a "${msg}" log line with the port`, () => {
    if (proc.child.exitCode !== null) throw new Error(`the process exited (${proc.child.exitCode}) before listening: ${proc.stderr()}`);
    const line = proc.logs.find((l) => l.msg === msg && typeof l.port === 'number');
    return line ? (line.port as number) : undefined;
  }, timeoutMs);
}
