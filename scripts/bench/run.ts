// `npm run bench`: the project's benchmark. Measures, in ONE run against the same Postgres and NATS, the raw limits
// of this machine and the product's figures, and sets each figure against its raw limit and DESIGN.md's target:
//   tx        (1) order + outbox row per transaction with plain pg, 8 and 32 connections
//   publish   (2) JetStream async publish with Msg-Id, 1000 in flight
//   http      (3) POST /orders through the real service process (embedded relay off), autocannon
//   drain     (4) relay process draining a pre-filled backlog (>= 200k events), and (7) its RSS meanwhile
//   hot       (9) drain of a backlog on 1 and on 10 aggregates against the publish round-trip bound (one publish
//             in flight per aggregate)
//   e2e       (5) commit → subscriber latency at 1000 and 5000 orders/s through the service with a relay process
//             beside it, where the tail goes; (5b) at 1000/s with the service's embedded relay
//   failover  (6) hand-over after SIGKILL, POST /step-down and SIGTERM of the leader among 3 relay processes
//   scale     (8) drain over 8 partitions with 1, 2 and 4 relay processes; publishing pause per partition moved
//             when a 4th relay joins 3
// Runs after `npm run build` (it starts services/*/dist). Everything it creates is named after the run's tag and
// removed at the end, also on failure and Ctrl-C. See --help.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { PrivatePostgres } from '@outbox-relay/test-support';
import { cleanupAll, errorMessage, installProcessHandlers, onCleanup, runScript, type Log } from '../lib/cleanup';
import { machineInfo, openContext, ROOT, type BenchContext, type MachineInfo } from './lib/context';
import { summarizeProfile } from './lib/cpu-profile';
import { commandLine } from './lib/flags';
import { HELP, parseBenchArgs, runSettings, selectSteps, type StepName } from './lib/options';
import { markdownTable, textTable, writeGeneratedSection, type Row } from './lib/report';
import { buildRows } from './lib/report-rows';
import { checkpoint } from './lib/resources';
import type { StepResults, Steps } from './lib/step-results';
import { e2eLatency } from './steps/e2e-latency';
import { failover } from './steps/failover';
import { hotAggregates } from './steps/hot-aggregates';
import { httpOrders } from './steps/http-orders';
import { rawPublish } from './steps/raw-publish';
import { rawTransactions } from './steps/raw-transactions';
import { relayDrain } from './steps/relay-drain';
import { scaleOut } from './steps/scale-out';

const STEPS: Steps = { tx: rawTransactions, publish: rawPublish, http: httpOrders, drain: relayDrain, hot: hotAggregates, e2e: e2eLatency, failover, scale: scaleOut };

function generatedBody(ctx: BenchContext, m: MachineInfo, rows: Row[], steps: StepName[]): string {
  const command = `npm run bench${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  return `## Benchmark results (generated)

\`${command}\` on ${m.date}${ctx.quick ? ' — **--quick smoke run: sizes too small to be representative**' : ''}.
Machine: ${m.nproc} CPUs (\`nproc\`; ${m.cpu}), ${m.memoryGiB} GiB RAM, Node ${m.node}, PostgreSQL ${m.postgres}
(synchronous_commit=${m.synchronousCommit}, autovacuum=${m.autovacuum}), nats-server ${m.nats}; client, Postgres and NATS on the same host;
load average at start ${m.loadAverage}. Steps: ${steps.join(', ')}.

${markdownTable(rows)}

How each figure is taken (scripts/bench/steps/): every step starts after a \`CHECKPOINT\`, so it does not pay for
the previous step's writes; (2), (4), (9) and (5) with the relay process are the medians of three runs (\`--repeat\`), all three shown
((5): the run with the median p99). (3) the order service runs as a process with
\`ORDERS_RELAY_ENABLED=false\` and \`LOG_LEVEL=warn\`, against the best of the two raw transaction rates of (1);
with its defaults, creates that arrive while writes are in flight share one statement and one commit ("orders per
transaction", counted from the rows' xmin); (3b) is the same with one transaction per order. Every order is
checked to have its event. (4) a stand-alone relay process drains a backlog enqueued (and checkpointed) before it started; time on
the database clock from the lease's \`acquired_at\` to the \`last_published_at\` of the mark that completes the
backlog; stream count = events is checked. (5) the service with a relay process beside it (as the operator runs
relays; (5b): the service's embedded relay instead, one run at 1000/s); an open-loop client sends 1000, then 5000
POST /orders per second on schedule (when it cannot keep the schedule, the row says what rate it achieved and how
far behind it fell); latency runs from the event row's \`created_at\` (Postgres \`now()\` = start of the
statement that wrote it, so an upper bound of commit → subscriber) to the moment a JetStream consumer in a
worker thread of the benchmark process (apart from the client's event loop) receives the event. Targets: p99 ≤ 10 ms at 1000/s, ≤ 25 ms at 5000/s. Where the tail is: the
same latency split at the stream's own timestamp of each message into createdAt → stored (relay and publish) and
stored → received (delivery, including the consumer thread's event loop), as p99 and max of each part, the median
of each part among the events at or above the end-to-end p99, and the slowest event's parts; and over the
measured seconds the relay's event-loop delay (prom-client's \`nodejs_eventloop_lag_p99_seconds\` / \`_max_seconds\`
on its \`/metrics\`, less their 10 ms sampling interval) and GC time (\`nodejs_gc_duration_seconds\`, a lower
bound: prom-client counts one GC per observer batch), and the event-loop delay of the benchmark's consumer thread
and of its client.
(6) 3 relay processes with lease 2000 ms / renew 500 ms (the defaults); time from the action to the successor's
\`acquired_at\`; "publishing resumed" is when a probe event committed right after the action was stored in the stream.
(7) VmRSS of the relay process of (4), sampled every 100 ms; its V8 heap (used, total) and external memory from
prom-client's Node metrics on its \`/metrics\`, scraped every second (the largest of each). A host process sizes V8's
heap for the whole machine; (7b) drains once more with the heap Node gives a relay in its pod (the operator's default
256 Mi memory limit: --max-old-space-size=256 --max-semi-space-size=2, what Node chooses inside such a cgroup).
(9) the relay publishes one event per aggregate at a time, so a backlog on few aggregates is bound by the publish
round trip: backlogs on exactly 1 aggregate (\`--hot-events\`, default 20000) and on 10 (2.5 times as many), drained
as in (4), against raw loops in the same run that await each ack before their next message, 1 loop and 10 loops
(acks collected on one reply subscription, as the relay does); the ratio shows whether the relay reaches that bound.`;
}

/** Runs one step into `results` (a generic function, so each step's figures land under its own name). */
async function runStep<K extends StepName>(ctx: BenchContext, name: K, results: StepResults): Promise<boolean> {
  try {
    await checkpoint(ctx);
    results.figures[name] = await STEPS[name](ctx);
    return true;
  } catch (error) {
    results.errors[name] = errorMessage(error);
    ctx.log(`  FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return false;
  }
}

/**
 * A private Postgres for --commit-timestamps: track_commit_timestamp needs a restart, which the shared server is
 * not ours to do. Like the shared one otherwise (fsync and synchronous_commit on, autovacuum off: see machineInfo).
 */
async function privateCommitTimestampServer(log: Log): Promise<string> {
  const server = await PrivatePostgres.start({ track_commit_timestamp: 'on', autovacuum: 'off' });
  onCleanup('private Postgres', () => server.destroy());
  log(`--commit-timestamps: a private Postgres on port ${server.port} with track_commit_timestamp on`);
  return server.url;
}

async function main(): Promise<number> {
  const log: Log = (line = '') => process.stdout.write(`${line}\n`);
  const args = commandLine('bench', HELP, parseBenchArgs);
  if (!args) return 0;
  installProcessHandlers(log, 'cleaning up what the benchmark created...');
  const steps = selectSteps(args, log);
  const settings = runSettings(args);
  let ctx: BenchContext;
  try {
    const databaseUrl = args.commitTimestamps ? await privateCommitTimestampServer(log) : undefined;
    ctx = await openContext(log, 'bench', {
      quick: args.quick,
      cpuProf: args.cpuProf,
      events: settings.events,
      hotEvents: settings.hotEvents,
      batchSize: args.batch,
      analyzeBacklog: args.analyze,
      childLogLevel: settings.childLogLevel,
      repeats: settings.repeats,
      serviceNodeFlags: settings.serviceNodeFlags,
    }, undefined, databaseUrl);
  } catch (error) {
    process.stderr.write(`bench: ${errorMessage(error)}\n`);
    await cleanupAll();
    return 1;
  }
  const { runDir, tag } = ctx;
  const m = await machineInfo(ctx);
  log(
    `outbox-relay benchmark ${tag}${args.quick ? ' (--quick)' : ''}: ${m.nproc} CPUs, Node ${m.node}, PostgreSQL ${m.postgres} ` +
      `(autovacuum=${m.autovacuum}), nats-server ${m.nats}, load ${m.loadAverage}`,
  );
  log(`steps: ${steps.join(', ')}; child logs in ${runDir}`);

  const results: StepResults = { figures: {}, errors: {} };
  let failed = false;
  for (const name of steps) {
    log(`\n[${name}]`);
    const started = performance.now();
    if (!(await runStep(ctx, name, results))) failed = true;
    log(`  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }

  const rows = buildRows(results);
  log(`\n${textTable(rows)}\n`);
  if (settings.write) {
    const out = path.resolve(ROOT, args.out);
    writeGeneratedSection(out, generatedBody(ctx, m, rows, steps));
    log(`table written to ${path.relative(process.cwd(), out) || out}`);
  } else {
    log(`(not written to ${args.out}: ${args.write === false ? '--no-write' : '--quick/--only run'}; add --write to write it)`);
  }
  await cleanupAll(log);
  if (args.cpuProf) {
    const dir = path.join(runDir, 'profiles');
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
    for (const file of files) log(`\n${summarizeProfile(path.join(dir, file), 15)}`);
    log(`\nCPU profiles kept in ${dir} (open in Chrome DevTools, or: node -r ./test/support/register-ts.cjs scripts/bench/profile-summary.ts <file>)`);
  }
  if (failed) log(`some steps failed; child logs kept in ${runDir}`);
  else if (args.logLevel) log(`child logs (LOG_LEVEL=${args.logLevel}) kept in ${runDir}`);
  else if (!args.cpuProf) rmSync(runDir, { recursive: true, force: true });
  return failed ? 1 : 0;
}

runScript('bench', main);
