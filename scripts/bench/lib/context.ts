// What every benchmark step gets: the run's tag and directory, one pg pool and one NATS connection (closed by the
// clean-up), the run's settings, and a description of the machine for the report.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { ROOT, TEST_DATABASE_URL, TEST_NATS_URL } from '@outbox-relay/test-support';
import { onCleanup, type Log } from '../../lib/cleanup';

export { ROOT };

/** What a run was asked for (run.ts's flags); the soak keeps the defaults. */
export interface BenchSettings {
  quick: boolean;
  cpuProf: boolean;
  /** Events of the raw publish and the drain backlog. */
  events: number;
  /** Events of the hot backlog on 1 aggregate (hot-aggregates.ts). */
  hotEvents: number;
  /** The drain relay's OUTBOX_BATCH_SIZE. */
  batchSize: number;
  analyzeBacklog: boolean;
  /** LOG_LEVEL of the services the run starts. */
  childLogLevel: string;
  /** Runs of the raw publish and the drain whose medians are reported. */
  repeats: number;
  /** Node flags of every service process the run starts (--service-node-flag). */
  serviceNodeFlags: string[];
}

export interface BenchContext extends BenchSettings {
  root: string;
  tag: string;
  runDir: string;
  databaseUrl: string;
  natsUrl: string;
  pool: Pool;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  log: Log;
  /** Set once the server refused a CHECKPOINT (said once, then not tried again in vain). */
  checkpointRefused: boolean;
}

const DEFAULTS: BenchSettings = { quick: false, cpuProf: false, events: 200_000, hotEvents: 20_000, batchSize: 1000, analyzeBacklog: false, childLogLevel: 'warn', repeats: 1, serviceNodeFlags: [] };

/**
 * DATABASE_URL and NATS_URL (or their defaults) are where the test suite finds its servers. `natsUrl` may list
 * several servers, comma-separated (a cluster), as NATS_URL does for the services.
 */
export async function openContext(
  log: Log,
  prefix: string,
  settings: Partial<BenchSettings> = {},
  natsUrl = TEST_NATS_URL,
  databaseUrl = TEST_DATABASE_URL,
): Promise<BenchContext> {
  const tag = `${prefix}_${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const runDir = path.join(os.tmpdir(), `outbox-${tag}`);
  mkdirSync(runDir, { recursive: true });
  const pool = new Pool({ connectionString: databaseUrl, max: 8, application_name: tag });
  onCleanup('database pool', () => pool.end());
  const nc = await connect({ servers: natsUrl.split(','), name: tag, maxReconnectAttempts: -1 });
  onCleanup('NATS connection', () => nc.close());
  return {
    ...DEFAULTS,
    ...settings,
    root: ROOT,
    tag,
    runDir,
    databaseUrl,
    natsUrl,
    pool,
    nc,
    js: jetstream(nc),
    jsm: await jetstreamManager(nc),
    log,
    checkpointRefused: false,
  };
}

export interface MachineInfo {
  nproc: string;
  cpu: string;
  memoryGiB: string;
  node: string;
  postgres: string;
  synchronousCommit: string;
  autovacuum: string;
  nats: string;
  loadAverage: string;
  date: string;
}

export async function machineInfo(ctx: BenchContext): Promise<MachineInfo> {
  const { rows } = await ctx.pool.query<{ v: string; sc: string; av: string }>(
    `SELECT current_setting('server_version') AS v, current_setting('synchronous_commit') AS sc, current_setting('autovacuum') AS av`,
  );
  let nproc = String(os.availableParallelism());
  try {
    nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    // not on PATH: keep Node's count
  }
  const settings = rows[0]!;
  return {
    nproc,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    postgres: settings.v,
    synchronousCommit: settings.sc,
    autovacuum: settings.av,
    nats: ctx.nc.info?.version ?? 'unknown',
    loadAverage: os.loadavg().map((l) => l.toFixed(2)).join(' '),
    date: new Date().toISOString(),
  };
}
