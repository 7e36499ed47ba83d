#!/usr/bin/env node
// `npm run bench`: the project's benchmark. Measures, in ONE run against the same Postgres and NATS, the raw limits
// of this machine and the product's figures, and sets each figure against its raw limit and DESIGN.md's target:
//   tx        (1) order + outbox row per transaction with plain pg, 8 and 32 connections
//   publish   (2) JetStream async publish with Msg-Id, 1000 in flight
//   http      (3) POST /orders through the real service process (embedded relay off), autocannon
//   drain     (4) relay process draining a pre-filled backlog (>= 200k events), and (7) its RSS meanwhile
//   e2e       (5) commit → subscriber latency at 1000 orders/s through the service with its embedded relay
//   failover  (6) hand-over after SIGKILL, POST /step-down and SIGTERM of the leader among 3 relay processes
//   scale     (8) drain over 8 partitions with 1, 2 and 4 relay processes; publishing pause per partition moved
//             when a 4th relay joins 3
// Runs after `npm run build` (it starts services/*/dist). Everything it creates is named after the run's tag and
// removed at the end, also on failure and Ctrl-C. See --help.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { cleanupAll, installProcessHandlers, isCleaningUp } from './lib/cleanup.mjs';
import { machineInfo, openContext, ROOT } from './lib/context.mjs';
import { summarizeProfile } from './lib/cpu-profile.mjs';
import { HELP, parseArgs, selectSteps, UsageError } from './lib/options.mjs';
import { buildRows, markdownTable, textTable, writeGeneratedSection } from './lib/report.mjs';
import { checkpoint } from './lib/resources.mjs';
import { rawTransactions } from './steps/raw-transactions.mjs';
import { rawPublish } from './steps/raw-publish.mjs';
import { httpOrders } from './steps/http-orders.mjs';
import { relayDrain } from './steps/relay-drain.mjs';
import { e2eLatency } from './steps/e2e-latency.mjs';
import { failover } from './steps/failover.mjs';
import { scaleOut } from './steps/scale-out.mjs';

const STEPS = { tx: rawTransactions, publish: rawPublish, http: httpOrders, drain: relayDrain, e2e: e2eLatency, failover, scale: scaleOut };

function generatedBody(ctx, m, rows, steps) {
  const command = `node scripts/bench/run.mjs${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  return `## Benchmark results (generated)

\`${command}\` on ${m.date}${ctx.quick ? ' — **--quick smoke run: sizes too small to be representative**' : ''}.
Machine: ${m.nproc} CPUs (\`nproc\`; ${m.cpu}), ${m.memoryGiB} GiB RAM, Node ${m.node}, PostgreSQL ${m.postgres}
(synchronous_commit=${m.synchronousCommit}, autovacuum=${m.autovacuum}), nats-server ${m.nats}; client, Postgres and NATS on the same host;
load average at start ${m.loadAverage}. Steps: ${steps.join(', ')}.

${markdownTable(rows)}

How each figure is taken (scripts/bench/steps/): every step starts after a \`CHECKPOINT\`, so it does not pay for
the previous step's writes; (2) and (4) are the medians of three runs (\`--repeat\`), all three shown. (3) the order service runs as a process with
\`ORDERS_RELAY_ENABLED=false\` and \`LOG_LEVEL=warn\`, against the best of the two raw transaction rates of (1);
with its defaults, creates that arrive while writes are in flight share one statement and one commit ("orders per
transaction", counted from the rows' xmin); (3b) is the same with one transaction per order. Every order is
checked to have its event. (4) a stand-alone relay process drains a backlog enqueued (and checkpointed) before it started; time on
the database clock from the lease's \`acquired_at\` to the \`last_published_at\` of the mark that completes the
backlog; stream count = events is checked. (5) the service with a relay process beside it (as the operator runs
relays; (5b): the service's embedded relay instead); an open-loop client sends 1000 POST /orders per second;
latency runs from the event row's \`created_at\` (Postgres \`now()\` = start of the
statement that wrote it, so an upper bound of commit → subscriber) to the moment a JetStream consumer in the
benchmark process receives the event.
(6) 3 relay processes with lease 2000 ms / renew 500 ms (the defaults); time from the action to the successor's
\`acquired_at\`; "publishing resumed" is when a probe event committed right after the action was stored in the stream.
(7) VmRSS of the relay process of (4), sampled every 100 ms.`;
}

async function main() {
  const log = (line = '') => process.stdout.write(`${line}\n`);
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`bench: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (args.help) {
    log(HELP);
    return 0;
  }
  installProcessHandlers(log);
  const steps = selectSteps(args, log);
  let ctx;
  try {
    ctx = await openContext({ quick: args.quick, cpuProf: args.cpuProf, log });
  } catch (error) {
    process.stderr.write(`bench: ${error.message}\n`);
    await cleanupAll();
    return 1;
  }
  ctx.sizes = { events: args.events ?? (args.quick ? 20_000 : 200_000) };
  ctx.batchSize = args.batch;
  ctx.analyzeBacklog = args.analyze;
  ctx.childLogLevel = args.logLevel ?? 'warn';
  ctx.repeats = args.repeat ?? (args.quick ? 1 : 3);
  const { runDir, tag } = ctx;
  const m = await machineInfo(ctx);
  log(
    `outbox-relay benchmark ${tag}${args.quick ? ' (--quick)' : ''}: ${m.nproc} CPUs, Node ${m.node}, PostgreSQL ${m.postgres} ` +
      `(autovacuum=${m.autovacuum}), nats-server ${m.nats}, load ${m.loadAverage}`,
  );
  log(`steps: ${steps.join(', ')}; child logs in ${runDir}`);

  const results = {};
  let failed = false;
  for (const name of steps) {
    log(`\n[${name}]`);
    const started = performance.now();
    try {
      await checkpoint(ctx);
      results[name] = await STEPS[name](ctx);
    } catch (error) {
      failed = true;
      results[name] = { error: error.message };
      log(`  FAILED: ${error.stack ?? error.message}`);
    }
    log(`  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }

  const rows = buildRows(results);
  log(`\n${textTable(rows)}\n`);
  const write = args.write ?? (!args.quick && !args.only);
  if (write) {
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
    log(`\nCPU profiles kept in ${dir} (open in Chrome DevTools, or: node scripts/bench/profile-summary.mjs <file>)`);
  }
  if (failed) log(`some steps failed; child logs kept in ${runDir}`);
  else if (args.logLevel) log(`child logs (LOG_LEVEL=${args.logLevel}) kept in ${runDir}`);
  else if (!args.cpuProf) rmSync(runDir, { recursive: true, force: true });
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (error) => {
    // After Ctrl-C the clean-up removes what running steps still use; the signal handler exits.
    if (isCleaningUp()) return;
    process.stderr.write(`bench: ${error.stack ?? error.message}\n`);
    await cleanupAll();
    process.exit(1);
  },
);
