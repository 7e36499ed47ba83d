// Built services as real child processes, with their output in the run directory and RSS read from /proc.
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { onCleanup, trackChild } from './cleanup.mjs';
import { sleep, waitFor } from './stats.mjs';

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `node <root>/<script>` with `env` added to this process's environment. stdout and stderr go to
 * `<runDir>/<name>.log`. The process is stopped (SIGTERM, then SIGKILL) by the run's clean-up.
 */
export function startNode(ctx, name, script, env) {
  const file = path.join(ctx.root, script);
  if (!existsSync(file)) throw new Error(`${script} is not built: run \`npm run build\` first`);
  const logFile = path.join(ctx.runDir, `${name}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  // --cpu-prof: the profile is written when the process exits normally (SIGTERM), not after SIGKILL.
  const profile = ctx.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ctx.runDir, 'profiles')}`, `--cpu-prof-name=${name}.${Date.now()}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...profile, file], { cwd: ctx.root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const proc = {
    name,
    child,
    pid: child.pid,
    logFile,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    /** SIGTERM, SIGKILL after `graceMs`; resolves when the process is gone. */
    async stop(graceMs = 10_000) {
      if (!proc.alive()) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  proc.remove = onCleanup(`process ${name} (pid ${child.pid})`, () => proc.stop());
  return proc;
}

/** Waits until GET `url` answers 200 (the process must stay alive meanwhile). */
export async function waitHttpOk(proc, url, timeoutMs = 30_000) {
  await waitFor(`${proc.name} at ${url}`, async () => {
    if (!proc.alive()) throw new Error(`${proc.name} exited before it was ready; see ${proc.logFile}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      return res.ok ? (await res.json().catch(() => ({}))) : undefined;
    } catch {
      return undefined;
    }
  }, timeoutMs, 50);
}

/** Resident set size of `pid` in MiB (Linux /proc), or NaN once the process is gone. */
export function rssMiB(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Samples `rssMiB(pid)` every `everyMs` until the returned `stop()` is called; `stop()` resolves the samples. */
export function sampleRss(pid, everyMs = 100) {
  const samples = [];
  let active = true;
  const loop = (async () => {
    while (active) {
      const value = rssMiB(pid);
      if (Number.isFinite(value)) samples.push({ at: Date.now(), mib: value });
      await sleep(everyMs);
    }
  })();
  return {
    samples,
    async stop() {
      active = false;
      await loop;
      return samples;
    },
  };
}

let ticksPerSecond = null;

/** CPU time (user + system) used so far by `pid`, in milliseconds (Linux /proc), or NaN once it is gone. */
export function cpuMs(pid) {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  try {
    // Fields after the parenthesized command name; utime and stime are the 14th and 15th fields overall.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  } catch {
    return Number.NaN;
  }
}

/** Starts measuring the CPU use of `pid`; `stop()` returns it as a share of one core over the elapsed time. */
export function measureCpu(pid) {
  const startCpu = cpuMs(pid);
  const startAt = performance.now();
  return {
    stop() {
      return (cpuMs(pid) - startCpu) / (performance.now() - startAt);
    },
  };
}
