// What every benchmark step gets: the run's tag and directory, one pg pool and one NATS connection (closed by the
// clean-up), the built library, and a description of the machine for the report.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { onCleanup } from './cleanup.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The built @outbox-relay/outbox (services/outbox/dist) with its building blocks, or an error telling to build. */
export function loadOutboxLibrary() {
  const require = createRequire(path.join(ROOT, 'package.json'));
  try {
    return { ...require('@outbox-relay/outbox'), ...require('@outbox-relay/outbox/internal') };
  } catch (error) {
    throw new Error(`cannot load the built library (${error.message}); run \`npm run build\` first`);
  }
}

export async function openContext({ quick = false, cpuProf = false, log, prefix = 'bench' }) {
  const outboxLib = loadOutboxLibrary();
  const tag = `${prefix}_${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const runDir = path.join(os.tmpdir(), `outbox-${tag}`);
  mkdirSync(runDir, { recursive: true });
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 8, application_name: tag });
  onCleanup('database pool', () => pool.end());
  const nc = await connect({ servers: natsUrl, name: tag });
  onCleanup('NATS connection', () => nc.close());
  return {
    root: ROOT,
    tag,
    runDir,
    quick,
    cpuProf,
    databaseUrl,
    natsUrl,
    pool,
    nc,
    js: jetstream(nc),
    jsm: await jetstreamManager(nc),
    outboxLib,
    log,
  };
}

export async function machineInfo(ctx) {
  const { rows } = await ctx.pool.query(
    `SELECT current_setting('server_version') AS v, current_setting('synchronous_commit') AS sc, current_setting('autovacuum') AS av`,
  );
  let nproc = String(os.availableParallelism());
  try {
    nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    // not on PATH: keep Node's count
  }
  return {
    nproc,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    postgres: rows[0].v,
    synchronousCommit: rows[0].sc,
    autovacuum: rows[0].av,
    nats: ctx.nc.info?.version ?? 'unknown',
    loadAverage: os.loadavg().map((l) => l.toFixed(2)).join(' '),
    date: new Date().toISOString(),
  };
}
