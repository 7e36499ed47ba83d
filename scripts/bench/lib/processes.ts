// Built services as real child processes, with their output in the run directory, and their RSS and CPU time
// read from /proc.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from '@outbox-relay/test-support';
import { startNodeProcess, type NodeProcess } from '../../lib/node-process';
import type { BenchContext } from './context';
import { parseExposition, sampleValue } from './runtime-metrics';
import { sleep } from './stats';

/**
 * Starts `node <root>/<script>` with `env` added to this process's environment. stdout and stderr go to
 * `<runDir>/<name>.log` (never read here: at --log-level info a service logs every request, and parsing that would
 * cost the benchmark's own CPU). The process is stopped (SIGTERM, then SIGKILL) by the run's clean-up.
 */
export function startNode(ctx: BenchContext, name: string, script: string, env: Record<string, string>, nodeArgs: string[] = []): NodeProcess {
  // --cpu-prof: the profile is written when the process exits normally (SIGTERM), not after SIGKILL.
  const profile = ctx.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(ctx.runDir, 'profiles')}`, `--cpu-prof-name=${name}.${Date.now()}.cpuprofile`] : [];
  return startNodeProcess(name, script, env, { runDir: ctx.runDir, graceMs: 10_000, nodeArgs: [...profile, ...ctx.serviceNodeFlags, ...nodeArgs], collectLogs: false });
}

/** Waits until GET `url` answers 200 (the process must stay alive meanwhile). */
export async function waitHttpOk(proc: NodeProcess, url: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(`${proc.name} at ${url}`, async () => {
    if (!proc.alive()) throw new Error(`${proc.name} exited before it was ready; see ${proc.logFile}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      return res.ok ? ((await res.json().catch(() => ({}))) as unknown) : undefined;
    } catch {
      return undefined;
    }
  }, timeoutMs, 50);
}

/** Resident set size of `pid` in MiB (Linux /proc), or NaN once the process is gone. */
export function rssMiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

export interface RssSampler {
  readonly samples: Array<{ at: number; mib: number }>;
  /** Stops sampling; resolves the samples. */
  stop(): Promise<Array<{ at: number; mib: number }>>;
}

/** Samples `rssMiB(pid)` every `everyMs` until the returned `stop()` is called. */
export function sampleRss(pid: number, everyMs = 100): RssSampler {
  const samples: Array<{ at: number; mib: number }> = [];
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

/** The largest V8 heap figures a process's `/metrics` (prom-client's default Node metrics) showed, in MiB. */
export interface HeapPeaks {
  heapUsed: number;
  heapTotal: number;
  external: number;
  samples: number;
}

const HEAP_GAUGES = {
  heapUsed: 'nodejs_heap_size_used_bytes',
  heapTotal: 'nodejs_heap_size_total_bytes',
  external: 'nodejs_external_memory_bytes',
} as const;

/**
 * Samples a service's V8 heap through its `/metrics` every `everyMs`: what of the RSS is JavaScript objects (heap
 * used), what V8 reserved for them (heap total) and what lives outside the heap (Buffers, native memory). A scrape
 * costs the service a little work, so the interval is far longer than the RSS sampler's.
 */
export function sampleHeap(metricsUrl: string, everyMs = 1000): { stop(): Promise<HeapPeaks> } {
  const peaks: HeapPeaks = { heapUsed: Number.NaN, heapTotal: Number.NaN, external: Number.NaN, samples: 0 };
  let active = true;
  const loop = (async () => {
    while (active) {
      const text = await fetch(metricsUrl, { signal: AbortSignal.timeout(2000) }).then((r) => r.text()).catch(() => '');
      const samples = parseExposition(text);
      for (const [key, name] of Object.entries(HEAP_GAUGES) as Array<[keyof typeof HEAP_GAUGES, string]>) {
        const bytes = sampleValue(samples, name);
        if (Number.isFinite(bytes)) peaks[key] = Math.max(Number.isNaN(peaks[key]) ? 0 : peaks[key], bytes / 1024 / 1024);
      }
      if (text) peaks.samples += 1;
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      active = false;
      await loop;
      return peaks;
    },
  };
}

let ticksPerSecond: number | null = null;

/** CPU time (user + system) used so far by `pid`, in milliseconds (Linux /proc), or NaN once it is gone. */
export function cpuMs(pid: number): number {
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
export function measureCpu(pid: number): { stop(): number } {
  const startCpu = cpuMs(pid);
  const startAt = performance.now();
  return {
    stop() {
      return (cpuMs(pid) - startCpu) / (performance.now() - startAt);
    },
  };
}
