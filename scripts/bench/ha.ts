// `npm run bench:ha`: the relay against JetStream as production runs it, a 3-node cluster (private nats-servers of
// the run) and replicated streams, measured in ONE run against raw limits of the same cluster:
//   raw      (2) raw publish loops to an R3 stream: JetStreamClient.publish, and acks on one reply subscription (2b)
//   drain    (4) a relay process drains a backlog into an R3 and into an R1 stream of the same cluster
//   latency  (5) commit → subscriber p50/p99 at a steady rate (default 1000 events/s) on R3
//   kill     (6) the publishing stall per kill -9 of the stream's leader, and per graceful stop of it
// Each step is a file of scripts/bench/ha/ and an entry of HA_STEPS (see ha/step.ts to add one, e.g. a Postgres
// failover). Runs after `npm run build` (it starts services/relay/dist). Everything it creates is named after the
// run's tag and removed at the end, the cluster included, also on failure and Ctrl-C. See --help.
import { rmSync } from 'node:fs';
import { cleanupAll, errorMessage, installProcessHandlers, runScript, type Log } from '../lib/cleanup';
import { machineInfo } from './lib/context';
import { commandLine } from './lib/flags';
import { textTable, type Row } from './lib/report';
import { checkpoint } from './lib/resources';
import { openHaContext } from './ha/context';
import { e2eLatencyR3Step } from './ha/e2e-latency-r3';
import { HA_HELP, parseHaArgs, selectHaSteps } from './ha/options';
import { rawPublishR3Step } from './ha/raw-publish-r3';
import { relayDrainReplicasStep } from './ha/relay-drain-replicas';
import type { HaResults, HaStep } from './ha/step';
import { streamLeaderKillStep } from './ha/stream-leader-kills';

/** The steps, in the order they run. */
const HA_STEPS: readonly HaStep[] = [rawPublishR3Step, relayDrainReplicasStep, e2eLatencyR3Step, streamLeaderKillStep];

async function main(): Promise<number> {
  const log: Log = (line = '') => process.stdout.write(`${line}\n`);
  const args = commandLine('bench:ha', HA_HELP, parseHaArgs);
  if (!args) return 0;
  installProcessHandlers(log, 'cleaning up what the benchmark created (the cluster too)...');
  const names = selectHaSteps(args, log);
  const ctx = await openHaContext(log, args);
  const m = await machineInfo(ctx);
  log(
    `outbox-relay HA benchmark ${ctx.tag}${args.quick ? ' (--quick)' : ''}: ${m.nproc} CPUs, Node ${m.node}, PostgreSQL ${m.postgres}, ` +
      `nats-server ${m.nats} x ${ctx.cluster.nodes.length}, load ${m.loadAverage}, ${m.date}`,
  );
  log(`steps: ${names.join(', ')}; events ${args.events}, rate ${args.rate}/s for ${args.seconds} s, kills ${args.kills}; child logs in ${ctx.runDir}`);

  const results: HaResults = {};
  const failed: string[] = [];
  for (const step of HA_STEPS.filter((s) => names.includes(s.name))) {
    log(`\n[${step.name}] ${step.title}`);
    const started = performance.now();
    try {
      await checkpoint(ctx);
      await step.run(ctx, results);
    } catch (error) {
      failed.push(step.name);
      log(`  FAILED: ${error instanceof Error ? (error.stack ?? error.message) : errorMessage(error)}`);
      // A step that failed half-way may leave a server down: the next one starts from a whole cluster.
      await ctx.cluster.heal(120_000).catch((healing: unknown) => log(`  the cluster could not be healed: ${errorMessage(healing)}`));
    }
    log(`  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }

  const rows: Row[] = HA_STEPS.flatMap((step) => step.rows(results));
  log(`\n${textTable(rows)}\n`);
  log('ratio: figure / raw limit of the same run; for the faults, publishing resumed minus leader elected.');
  await cleanupAll(log);
  if (failed.length > 0) {
    log(`steps failed: ${failed.join(', ')}; child logs kept in ${ctx.runDir}`);
    return 1;
  }
  rmSync(ctx.runDir, { recursive: true, force: true });
  return 0;
}

runScript('bench:ha', main);
