// `npm run soak`: 2M events through a stand-alone relay process while producers keep enqueuing, with retention on.
// Reports relay throughput per window of events, the drift between the first and the last window (target ≤ 10 %),
// the outbox table's size over time (it must stay bounded: retention deletes published rows), and the relay's RSS.
//
// Producers enqueue through the library (Outbox.transaction + enqueue, per-aggregate locks on, 200 events per
// transaction, aggregates reused from a pool) and hold the backlog (enqueued - published) near --backlog, so the
// relay always has work and each window measures the relay, not the producers. A window in which the backlog ran
// dry is flagged. At the end: stream last sequence = events (nothing lost, no duplicates), nothing pending.
//
// Retention DELETEs published rows, but only VACUUM makes their space reusable. Where the server runs with
// autovacuum=off (as this project's test server does), the soak runs VACUUM (ANALYZE) on the outbox table every
// --vacuum-ms in autovacuum's place and says so; --vacuum-ms 0 shows what happens without any vacuum.
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { nanos } from '@nats-io/nats-core';
import { migrateOutbox } from '@outbox-relay/outbox';
import { cleanupAll, installProcessHandlers, runScript, type Log } from '../lib/cleanup';
import { machineInfo, openContext } from './lib/context';
import { commandLine, integerFlag, UsageError, usageError, type ValueProblem } from './lib/flags';
import { rssMiB } from './lib/processes';
import { dropSchemaLater, pendingCount, schemaName, streamFor } from './lib/resources';
import { startRelayProcess } from './lib/services';
import { startProducers, startVacuuming, tableStats } from './lib/soak-load';
import { fmtInt, linearTrend, sleep } from './lib/stats';

const HELP = `Usage: npm run soak -- [options]        (run npm run build first)
       node -r ./test/support/register-ts.cjs scripts/bench/soak.ts [options]        (the same, from the repository root)

  --events <n>        events in total (default 2000000; --quick 200000)
  --window <n>        events per throughput window (default 100000; --quick 20000)
  --backlog <n>       unpublished events the producers keep ahead of the relay (default 20000)
  --retention-ms <n>  OUTBOX_RETENTION_MS of the relay: published rows older than this are deleted (default 5000)
  --batch <n>         relay OUTBOX_BATCH_SIZE (default 1000)
  --vacuum-ms <n>     VACUUM (ANALYZE) the outbox table this often when the server's autovacuum is off
                      (default 10000; 0 = never)
  --quick             smaller defaults, for a smoke run
  --help

Exit status: 0 when every event arrived (drift and table size are reported as PASS/MISS), 1 on loss or failure,
2 on bad flags.`;

const OPTIONS = {
  events: { type: 'string' },
  window: { type: 'string' },
  backlog: { type: 'string' },
  'retention-ms': { type: 'string' },
  batch: { type: 'string' },
  'vacuum-ms': { type: 'string' },
  quick: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const minimumOf = (flag: string) => (flag === '--vacuum-ms' ? 0 : 1);
const integerProblem: ValueProblem = (flag, value) => `${flag} needs an integer of at least ${minimumOf(flag)}, got "${value ?? ''}"`;

function parseSoakArgs(argv: string[]) {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true }));
  } catch (error) {
    throw usageError(error, argv, OPTIONS, integerProblem);
  }
  const int = (flag: keyof typeof OPTIONS & string) => {
    const value = values[flag];
    return integerFlag(`--${flag}`, typeof value === 'string' ? value : undefined, minimumOf(`--${flag}`), integerProblem);
  };
  const quick = values.quick ?? false;
  const args = {
    events: int('events') ?? (quick ? 200_000 : 2_000_000),
    window: int('window') ?? (quick ? 20_000 : 100_000),
    backlog: int('backlog') ?? 20_000,
    retentionMs: int('retention-ms') ?? 5000,
    batch: int('batch') ?? 1000,
    vacuumMs: int('vacuum-ms') ?? 10_000,
    quick,
    help: values.help ?? false,
  };
  if (args.retentionMs < 1000) throw new UsageError('--retention-ms must be at least 1000 (the relay refuses less)');
  if (args.window * 4 > args.events) throw new UsageError(`--window (${args.window}) must be at most a quarter of --events (${args.events})`);
  return args;
}

interface Window {
  index: number;
  rate: number;
  backlogMin: number;
  starved: boolean;
  tail: boolean;
  rssMiB: number;
  mib: number;
  live: number;
  dead: number;
  vacuums: number;
  /** Seconds spent in VACUUM of the outbox table during the window. */
  vacuumSeconds: number;
  /** Rows retention deleted from the outbox during the window (the relay's outbox_retention_deleted_rows_total). */
  retained: number;
  /** WAL the server wrote during the window (MiB; the whole server, producers' inserts included). */
  walMiB: number;
}

/** The relay's retention counter for the outbox table, from its /metrics. */
async function retentionDeleted(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith('outbox_retention_deleted_rows_total') && l.includes('table="outbox"'));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function walPosition(ctx: { pool: { query: (sql: string) => Promise<{ rows: Array<{ lsn: string }> }> } }): Promise<bigint> {
  const { rows } = await ctx.pool.query(`SELECT (pg_current_wal_lsn() - '0/0')::text AS lsn`);
  return BigInt(rows[0]!.lsn.split('.')[0]!);
}

async function main(): Promise<number> {
  const log: Log = (line = '') => process.stdout.write(`${line}\n`);
  const args = commandLine('soak', HELP, parseSoakArgs);
  if (!args) return 0;
  installProcessHandlers(log, 'cleaning up what the benchmark created...');
  const ctx = await openContext(log, 'soak');
  const m = await machineInfo(ctx);
  log(`outbox-relay soak ${ctx.tag}: ${fmtInt(args.events)} events, windows of ${fmtInt(args.window)}, backlog ${fmtInt(args.backlog)}, retention ${args.retentionMs} ms, batch ${args.batch}`);
  log(`machine: ${m.nproc} CPUs, Node ${m.node}, PostgreSQL ${m.postgres} (autovacuum=${m.autovacuum}), nats-server ${m.nats}, load ${m.loadAverage}, ${m.date}`);

  const schema = schemaName(ctx, 'soak');
  dropSchemaLater(ctx, schema);
  await migrateOutbox({ pool: ctx.pool, schema });
  // The stream keeps only the newest messages (2M would be ~1 GB on disk); last_seq still counts every one stored.
  const stream = streamFor(ctx, 'soak');
  await ctx.jsm.streams.add({
    name: stream.stream,
    subjects: [`${stream.subjectPrefix}.>`],
    duplicate_window: nanos(120_000),
    max_msgs: Math.min(args.events, 200_000),
  });
  const streamSeq = async () => (await ctx.jsm.streams.info(stream.stream)).state.last_seq;
  const vacuumMs = m.autovacuum === 'off' ? args.vacuumMs : 0;
  if (m.autovacuum === 'off') {
    log(
      vacuumMs > 0
        ? `autovacuum is off on this server: the soak runs VACUUM (ANALYZE) on the outbox table every ${vacuumMs} ms in its place`
        : 'autovacuum is off on this server and --vacuum-ms 0: nothing vacuums the outbox table (dead rows are never reclaimed)',
    );
  }
  const vacuum = vacuumMs > 0 ? startVacuuming(ctx, schema, vacuumMs) : null;

  let published = 0;
  const producers = startProducers(ctx, schema, args.events, args.backlog, () => published);
  const relay = await startRelayProcess(ctx, 'relay-soak', {
    schema,
    stream,
    env: {
      OUTBOX_BATCH_SIZE: String(args.batch),
      OUTBOX_RETENTION_MS: String(args.retentionMs),
      OUTBOX_RETENTION_INTERVAL_MS: '1000',
      OUTBOX_RETENTION_BATCH_SIZE: '5000',
    },
  });

  const windows: Window[] = [];
  let costs = { vacuumMs: vacuum?.totalMs ?? 0, retained: await retentionDeleted(`${relay.url}/metrics`), wal: await walPosition(ctx) };
  let windowStart: number | null = null;
  let minBacklog = Infinity;
  let previous = { at: performance.now(), published: 0 };
  const timeoutMs = Math.max(120_000, args.events * 2);
  const deadline = Date.now() + timeoutMs;
  log('\nwindow  events/s  backlog min  outbox MiB  live rows  dead rows  vacuums  vacuum s  retained  WAL MiB  relay RSS MiB');
  while (published < args.events) {
    if (producers.error) throw producers.error;
    if (vacuum?.error) throw vacuum.error;
    if (!relay.proc.alive()) throw new Error(`the relay exited; see ${relay.proc.logFile}`);
    if (Date.now() > deadline) throw new Error(`not done after ${timeoutMs} ms: ${published} of ${args.events} published`);
    await sleep(100);
    const now = { at: performance.now(), published: await streamSeq() };
    published = now.published;
    if (published > 0 && windowStart === null) windowStart = previous.at;
    minBacklog = Math.min(minBacklog, producers.enqueued - published);
    // Window boundaries fall between two polls: interpolate the crossing time linearly.
    while (windowStart !== null && now.published >= (windows.length + 1) * args.window) {
      const boundary = (windows.length + 1) * args.window;
      const fraction = (boundary - previous.published) / Math.max(1, now.published - previous.published);
      const crossedAt = previous.at + fraction * (now.at - previous.at);
      const stats = await tableStats(ctx, schema);
      const now2 = { vacuumMs: vacuum?.totalMs ?? 0, retained: await retentionDeleted(`${relay.url}/metrics`), wal: await walPosition(ctx) };
      const window: Window = {
        index: windows.length + 1,
        rate: args.window / ((crossedAt - windowStart) / 1000),
        backlogMin: minBacklog,
        starved: minBacklog < args.batch && producers.enqueued < args.events,
        // Producers finished during this window: the relay ran alone for part of it (no CPU shared with them).
        tail: producers.enqueued >= args.events,
        rssMiB: rssMiB(relay.proc.pid),
        ...stats,
        vacuumSeconds: (now2.vacuumMs - costs.vacuumMs) / 1000,
        retained: now2.retained - costs.retained,
        walMiB: Number(now2.wal - costs.wal) / 2 ** 20,
      };
      costs = now2;
      windows.push(window);
      windowStart = crossedAt;
      minBacklog = Infinity;
      log(
        `${String(window.index).padStart(6)}  ${fmtInt(window.rate).padStart(8)}  ${fmtInt(window.backlogMin).padStart(11)}  ` +
          `${window.mib.toFixed(1).padStart(10)}  ${fmtInt(window.live).padStart(9)}  ${fmtInt(window.dead).padStart(9)}  ${String(window.vacuums).padStart(7)}  ` +
          `${window.vacuumSeconds.toFixed(2).padStart(8)}  ${fmtInt(window.retained).padStart(8)}  ${window.walMiB.toFixed(0).padStart(7)}  ` +
          `${window.rssMiB.toFixed(0).padStart(13)}${window.starved ? '  (backlog ran dry: producer-bound)' : ''}${window.tail ? '  (producers done: tail)' : ''}`,
      );
    }
    previous = now;
  }
  await producers.done;
  await vacuum?.stop();
  // Give the last mark a moment to land before checking that nothing is pending.
  let pending = await pendingCount(ctx, schema);
  for (let i = 0; i < 50 && pending > 0; i++) {
    await sleep(100);
    pending = await pendingCount(ctx, schema);
  }
  const lastSeq = await streamSeq();
  await relay.proc.remove();

  // Drift between the first and the last window measured under the same conditions (producers running, backlog
  // never dry); the tail, where the relay drains the rest alone, would flatter the last figure.
  const comparable = windows.filter((w) => !w.tail && !w.starved);
  const ends = comparable.length >= 2 ? comparable : windows;
  const [first, last] = [ends[0]!, ends[ends.length - 1]!];
  const drift = (last.rate - first.rate) / first.rate;
  const quarter = Math.max(1, Math.floor(windows.length / 4));
  const earlyMax = Math.max(...windows.slice(quarter, 2 * quarter).map((w) => w.mib));
  const lateMax = Math.max(...windows.slice(-quarter).map((w) => w.mib));
  const bounded = lateMax <= earlyMax * 1.25;
  const rates = windows.map((w) => w.rate);
  // Less sensitive to one noisy window: mean of the first quarter of comparable windows against the last quarter.
  const q = Math.max(1, Math.floor(comparable.length / 4));
  const mean = (list: Window[]) => list.reduce((sum, w) => sum + w.rate, 0) / list.length;
  const quarterDrift = comparable.length >= 2 ? (mean(comparable.slice(-q)) - mean(comparable.slice(0, q))) / mean(comparable.slice(0, q)) : Number.NaN;
  const trend = linearTrend(comparable.map((w) => w.rate));
  log('');
  log(`throughput: window ${first.index} ${fmtInt(first.rate)}/s, window ${last.index} ${fmtInt(last.rate)}/s; all windows min ${fmtInt(Math.min(...rates))}/s, max ${fmtInt(Math.max(...rates))}/s`);
  log(`drift window ${first.index} → ${last.index} (first and last with producers running): ${(drift * 100).toFixed(1)} %  (target |drift| ≤ 10 %): ${Math.abs(drift) <= 0.1 ? 'PASS' : 'MISS'}`);
  log(`drift of the mean rate, first ${q} → last ${q} comparable windows: ${(quarterDrift * 100).toFixed(1)} %`);
  log(
    `trend over all ${comparable.length} comparable windows (least squares): ${fmtInt(trend.start)}/s → ${fmtInt(trend.end)}/s, ` +
      `${(trend.drift * 100).toFixed(1)} % (window-to-window standard deviation ${fmtInt(trend.stdev)}/s)`,
  );
  log(
    `outbox table: max ${earlyMax.toFixed(1)} MiB in windows ${quarter + 1}-${2 * quarter}, max ${lateMax.toFixed(1)} MiB in the last ${quarter} ` +
      `(bounded = late ≤ 1.25 × early): ${bounded ? 'PASS' : 'MISS'}`,
  );
  log(`relay RSS: first window ${windows[0]!.rssMiB.toFixed(0)} MiB, last ${windows[windows.length - 1]!.rssMiB.toFixed(0)} MiB, max ${Math.max(...windows.map((w) => w.rssMiB)).toFixed(0)} MiB`);
  const starved = windows.filter((w) => w.starved).length;
  if (starved > 0) log(`${starved} window(s) were producer-bound (the backlog ran dry): their rate is the producers', not the relay's`);
  if (vacuum) log(`the soak vacuumed the outbox table ${vacuum.runs} times (autovacuum is off on this server)`);
  const vacuumSeconds = windows.reduce((sum, w) => sum + w.vacuumSeconds, 0);
  const soakSeconds = windows.reduce((sum, w) => sum + args.window / w.rate, 0);
  const walMiB = windows.reduce((sum, w) => sum + w.walMiB, 0);
  log(
    `cost of keeping the table bounded: VACUUM ${vacuumSeconds.toFixed(1)} s in ${fmtInt(soakSeconds)} s of windows ` +
      `(${((vacuumSeconds / soakSeconds) * 100).toFixed(1)} % of the time, on its own connection); retention deleted ` +
      `${fmtInt(windows.reduce((sum, w) => sum + w.retained, 0))} rows; the server wrote ${walMiB.toFixed(0)} MiB of WAL ` +
      `(${fmtInt((walMiB * 2 ** 20) / (windows.length * args.window))} B per event, inserts included)`,
  );
  log(`events: ${fmtInt(args.events)} enqueued, stream last sequence ${fmtInt(lastSeq)}, pending ${pending}`);
  await stream.remove();
  await cleanupAll(log);
  if (lastSeq !== args.events || pending !== 0) {
    log(`LOST OR DUPLICATED: expected ${args.events} messages and nothing pending; relay log kept in ${ctx.runDir}`);
    return 1;
  }
  rmSync(ctx.runDir, { recursive: true, force: true });
  return 0;
}

runScript('soak', main);
