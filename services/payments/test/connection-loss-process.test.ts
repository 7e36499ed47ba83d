/**
 * The payment worker as a real process (its TypeScript sources, run as jest runs them) whose Postgres sessions
 * are all terminated while a charge is on its way: what a Postgres restart or failover does. The inbox
 * transaction is open and idle during the gateway call, so its session's death used to reach the process as an
 * unhandled 'error' event and kill it. Now the attempt fails as the database's failure (redelivered, no retry
 * used up), the redelivery finds the charge already made, and the order is paid exactly once.
 */
import { randomUUID } from 'node:crypto';
import { Outbox } from '@outbox-relay/outbox';
import { migrateOrders, orderCreatedEvent, OrderRepository } from '@outbox-relay/orders';
import { createTestSchema, type TestSchema, uniqueName, createTestStream, readStream, waitFor, type TestStream, REGISTER_TS, startService, type ServiceProcess } from '@outbox-relay/test-support';
import { workerProcessEnv } from './support/worker-process-env';

let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;
let orders: OrderRepository;
let worker: ServiceProcess | undefined;
const ordersSchema = uniqueName('payloss_or');
const inboxSchema = uniqueName('payloss_in');
const paymentsSchema = uniqueName('payloss_pa');

beforeAll(async () => {
  db = await createTestSchema('payloss_ob');
  ns = await createTestStream('payloss');
  await migrateOrders({ pool: db.pool, schema: ordersSchema, outboxSchema: db.schema });
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
  orders = new OrderRepository(ordersSchema);
});

afterAll(async () => {
  await worker?.stop('SIGKILL');
  await outbox.close();
  for (const schema of [ordersSchema, inboxSchema, paymentsSchema]) await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await ns.drop();
  await db.drop();
});

function startWorker(): ServiceProcess {
  return startService('services/payments/src/main.ts', {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${REGISTER_TS}`.trim(),
    ...workerProcessEnv({ outboxSchema: db.schema, ordersSchema, inboxSchema, paymentsSchema, stream: ns.stream, subjectPrefix: ns.subjectPrefix }),
    // One retry allowed: were the session's death counted as a handler failure, the event would be dead-lettered.
    PAYMENTS_MAX_RETRIES: '0',
    PAYMENTS_BACKOFF_MIN_MS: '50',
    PAYMENTS_METRICS_INTERVAL_MS: '0',
    // The gateway's answer comes 1.5 s after the charge: the inbox transaction stays open and idle meanwhile.
    FAKE_GATEWAY_LATENCY_MS: '1500',
    RELAY_INSTANCE_ID: 'payloss',
    LOG_LEVEL: 'info',
  });
}

/** Fails the wait at once, with the worker's fatal log lines and stderr, when the worker died. */
function alive(proc: ServiceProcess): void {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
    const fatal = proc.logs.filter((l) => l.level === 60).map((l) => `${String(l.msg)}: ${String((l.err as { message?: string } | undefined)?.message)}`);
    throw new Error(`worker exited (${proc.child.exitCode ?? proc.child.signalCode}): ${fatal.join('; ')} ${proc.stderr()}`);
  }
}

async function ledger(orderId: string) {
  const { rows } = await db.pool.query<{ calls: number; charge_id: string | null }>(
    `SELECT calls, charge_id FROM "${paymentsSchema}".fake_gateway_charges WHERE idempotency_key = $1`,
    [orderId],
  );
  return rows;
}

/**
 * Terminates every session of the worker (its pool and its embedded relay's), as a restart would: those whose
 * application is the worker's and whose last statement named one of this test's schemas.
 */
async function terminateWorkerSessions(): Promise<Array<{ application: string; state: string }>> {
  const { rows } = await db.pool.query<{ application: string; state: string }>(
    `SELECT application_name AS application, state, pg_terminate_backend(pid, 10000)
       FROM pg_stat_activity
      WHERE application_name LIKE 'payments%' AND pid <> pg_backend_pid()
        AND (strpos(query, $1) > 0 OR strpos(query, $2) > 0 OR strpos(query, $3) > 0 OR strpos(query, $4) > 0)
      ORDER BY application_name, state`,
    [db.schema, ordersSchema, inboxSchema, paymentsSchema],
  );
  return rows.map(({ application, state }) => ({ application, state }));
}

it('survives the death of every session during a charge; the order is paid once, PaymentSucceeded published once', async () => {
  worker = startWorker();
  const proc = worker;
  await waitFor('the worker to consume', () => (alive(proc), proc.logs.some((l) => l.msg === 'payment worker consuming')), 60_000);
  const { order, eventId } = await outbox.transaction(async (tx) => {
    const o = await orders.insert(tx, { id: randomUUID(), customerId: randomUUID(), amount: 30, currency: 'EUR' });
    const [e] = await outbox.enqueue(tx, orderCreatedEvent(o));
    return { order: o, eventId: e!.id };
  });

  // The gateway has charged and its answer is 1.5 s away; the inbox transaction is idle in transaction.
  await waitFor('the charge to be made', async () => (alive(proc), (await ledger(order.id))[0]?.charge_id ?? undefined));
  const killed = await terminateWorkerSessions();
  expect(killed).toContainEqual({ application: 'payments', state: 'idle in transaction' });

  await waitFor('the order to be PAID after the redelivery', async () => (alive(proc), (await orders.findById(db.pool, order.id))?.state === 'PAID'), 20_000);
  const failedAttempt = proc.logs.find((l) => l.msg === 'processing failed outside the handler; redelivery requested');
  expect(failedAttempt).toMatchObject({ eventId, err: { code: '57P01' } });
  expect(await ledger(order.id)).toEqual([{ calls: 2, charge_id: expect.any(String) }]);
  const paid = proc.logs.find((l) => l.msg === 'order paid' && l.orderId === order.id);
  expect(paid).toMatchObject({ attempt: 2, chargeReplayed: true, version: 3 });

  // The embedded relay got its sessions back too: the payment's event goes out, once.
  const published = await waitFor('PaymentSucceeded in the stream', async () => {
    alive(proc);
    const messages = (await readStream(ns.nc, ns.stream)).filter((m) => m.aggregateId === order.id);
    return messages.some((m) => m.eventType === 'PaymentSucceeded') ? messages : undefined;
  }, 20_000);
  expect(published.map((m) => m.eventType)).toEqual(['OrderCreated', 'PaymentSucceeded']);

  expect(await proc.stop('SIGTERM')).toBe(0);
  const last = proc.logs.filter((l) => l.msg === 'payments metrics').at(-1);
  expect(last?.metrics).toMatchObject({ processed: 1, succeeded: 1, failed: 0, retried: 0, deadLettered: 0, infrastructureErrors: 1 });
});
