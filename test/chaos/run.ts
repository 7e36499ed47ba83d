/**
 * One chaos run: start the private cluster, write under a seeded fault schedule, let everything drain, read the
 * whole stream, audit. Always tears down every process and directory it started, also when something throws.
 */
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { countPendingEvents, waitFor } from '@outbox-relay/test-support';
import { audit, type AuditResult } from './auditor';
import { aggregateIds, ChaosCluster, NAMES, startClock } from './cluster';
import { FaultSchedule, injectFault, type FaultContext, type FaultRecord } from './faults';
import { EventLedger } from './ledger';
import { chaosOptions, type ChaosOptions } from './options';
import { Probes, sleep } from './probes';
import { Random } from './random';
import { readAll, type AuditedMessage } from './stream';
import { Workload, type WorkloadStats } from './workload';

export interface ChaosResult {
  seed: number;
  passed: boolean;
  startedAt: string;
  /** Whole run, set-up to teardown. */
  totalMs: number;
  options: Omit<ChaosOptions, 'log' | 'logDir'>;
  faults: FaultRecord[];
  workload: Omit<WorkloadStats, 'errors'> & { errors: Array<{ message: string; count: number }> };
  /** From the end of the fault phase (everything healed, writers stopped) until nothing was unpublished. */
  finalDrainMs: number | null;
  /** Relay processes that exited without being asked (each was restarted, like a supervisor would). */
  unexpectedExits: number;
  relayProcessesStarted: number;
  audit: AuditResult;
}

/** Runs in progress, so that an interrupted CLI or a timed-out test can still tear them down. */
const active = new Set<{ cluster: ChaosCluster; workload: Workload | null }>();

/** Stops the writers and kills every process, and removes every directory, of the runs in progress (they then fail). */
export async function closeActiveRuns(): Promise<void> {
  const runs = [...active];
  active.clear();
  await Promise.all(runs.map(async (run) => {
    await run.cluster.close();
    await run.workload?.stop().catch(() => undefined);
  }));
}

export async function runChaos(overrides: Partial<ChaosOptions> & { seed: number }): Promise<ChaosResult> {
  const options = chaosOptions(overrides);
  const clock = startClock();
  const rng = new Random(options.seed);
  const ledger = new EventLedger();
  let cluster: ChaosCluster | null = null;
  let workload: Workload | null = null;
  let run: { cluster: ChaosCluster; workload: Workload | null } | null = null;
  try {
    cluster = await ChaosCluster.start(options, clock);
    cluster.log(`cluster up: postgres ${cluster.postgres.url}, nats ${cluster.natsServer.url}, ${options.relays} relays, ${options.partitions} partitions`);
    const probes = new Probes(cluster);
    workload = new Workload(cluster.postgres.url, aggregateIds(options.aggregates), ledger, options, rng.fork('workload'));
    run = { cluster, workload };
    active.add(run);
    workload.start();
    await waitFor('first events published', async () => (await publishedAny(cluster!)) || undefined, 60_000, 50);

    const faults = await faultPhase({ cluster, workload, probes, ledger, options, clock }, rng);

    cluster.log('fault phase over: healing, stopping writers, draining');
    await cluster.heal();
    const stopping = workload;
    workload = null;
    run.workload = null;
    await stopping.stop();
    // What the budget leaves, less a reserve for reading the stream, stopping the relays and the audit.
    const drainBound = options.budgetMs === undefined ? options.finalDrainMs : Math.max(5000, Math.min(options.finalDrainMs, options.budgetMs - clock.now() - 20_000));
    const finalDrainMs = await drainAll(cluster, drainBound);
    const undrained = finalDrainMs === null ? await pendingByPartition(cluster) : [];
    cluster.log(finalDrainMs === null ? `not drained after ${drainBound} ms` : `drained in ${finalDrainMs} ms; reading the stream`);
    const messages = await readWholeStream(cluster);

    cluster.autoRestart = false;
    const gracefulStops = await Promise.all(
      // Only the running ones: a relay that just crashed is already a finding of its own.
      cluster.relays.filter((slot) => slot.running).map(async (slot) => ({ instanceId: slot.instanceId, code: await slot.stopGracefully(10_000) })),
    );
    const result = await audit({
      db: cluster.db,
      ledger,
      messages,
      processes: cluster.processes,
      exits: cluster.exits,
      gracefulStops,
      undrained,
      harnessErrors: faults.filter((f) => f.error).map((f) => `fault #${f.index} ${f.kind} at t+${(f.startedAtMs / 1000).toFixed(1)}s: ${f.error}`),
    });
    const { log: _log, logDir: _logDir, ...printable } = options;
    return {
      seed: options.seed,
      passed: result.passed,
      startedAt: clock.startedAt.toISOString(),
      totalMs: clock.now(),
      options: printable,
      faults,
      workload: { ...stopping.stats, errors: [...stopping.stats.errors].map(([message, count]) => ({ message, count })).sort((a, b) => b.count - a.count) },
      finalDrainMs,
      unexpectedExits: cluster.exits.length,
      relayProcessesStarted: cluster.processes.length,
      audit: result,
    };
  } finally {
    await workload?.stop().catch(() => undefined);
    if (run) active.delete(run);
    if (cluster) {
      await cluster.close();
      // After close: the logs then include how each relay stopped.
      if (options.logDir) cluster.writeLogs(path.join(options.logDir, `seed-${options.seed}`));
    }
  }
}

async function faultPhase(ctx: FaultContext, rng: Random): Promise<FaultRecord[]> {
  const { options, clock } = ctx;
  const schedule = new FaultSchedule(rng.fork('faults'), options.faults, options);
  const faults: FaultRecord[] = [];
  const end = clock.now() + options.durationMs;
  while (clock.now() < end) {
    const plan = schedule.next();
    if (!plan) {
      await sleep(end - clock.now());
      break;
    }
    faults.push(await injectFault(ctx, plan));
    await sleep(Math.max(0, Math.min(plan.gapMs, end - clock.now())));
  }
  return faults;
}

async function publishedAny(cluster: ChaosCluster): Promise<boolean> {
  const { rows } = await cluster.db.query(`SELECT 1 FROM "${NAMES.schema}".outbox_published LIMIT 1`);
  return rows.length > 0;
}

/** Milliseconds until no event is unpublished; null when some still are after `boundMs`. */
async function drainAll(cluster: ChaosCluster, boundMs: number): Promise<number | null> {
  const started = performance.now();
  try {
    await waitFor('the outbox to drain', async () => (await countPendingEvents(cluster.db, NAMES.schema)) === 0 || undefined, boundMs, 100);
  } catch {
    return null;
  }
  return Math.round(performance.now() - started);
}

async function pendingByPartition(cluster: ChaosCluster): Promise<Array<{ partition: number; pending: number }>> {
  const { rows } = await cluster.db.query<{ partition: number; pending: number }>(
    `SELECT partition, count(*)::int AS pending FROM "${NAMES.schema}".outbox_pending GROUP BY partition ORDER BY partition`,
  );
  return rows;
}

async function readWholeStream(cluster: ChaosCluster): Promise<AuditedMessage[]> {
  const nc = await connect({ servers: cluster.natsServer.url, name: 'chaos-auditor' });
  try {
    return await readAll(nc, NAMES.stream);
  } finally {
    await nc.close();
  }
}
