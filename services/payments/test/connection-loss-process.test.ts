/**
 * The payment worker as a real process (its TypeScript sources, run as jest runs them) whose Postgres sessions
 * are all terminated while a charge is on its way: what a Postgres restart or failover does. The inbox
 * transaction is open and idle during the gateway call, so its session's death used to reach the process as an
 * unhandled 'error' event and kill it. Now the attempt fails as the database's failure (redelivered, no retry
 * used up), the redelivery finds the payment pending (not announced again) and the charge already made, and the
 * payment succeeds exactly once.
 */
import { Outbox } from '@outbox-relay/outbox';
import { createTestSchema, type TestSchema, uniqueName, createTestStream, readStream, waitFor, type TestStream, REGISTER_TS, startService, type ServiceProcess } from '@outbox-relay/test-support';
import { enqueueOrderCreated } from './support/order-created';
import { messagesOf, paymentEvents, paymentRow } from './support/payment-records';
import { workerProcessEnv } from './support/worker-process-env';

let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;
let worker: ServiceProcess | undefined;
const inboxSchema = uniqueName('payloss_in');
const paymentsSchema = uniqueName('payloss_pa');

beforeAll(async () => {
  db = await createTestSchema('payloss_ob');
  ns = await createTestStream('payloss');
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
});

afterAll(async () => {
  await worker?.stop('SIGKILL');
  await outbox.close();
  for (const schema of [inboxSchema, paymentsSchema]) await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await ns.drop();
  await db.drop();
});

function startWorker(): ServiceProcess {
  return startService('services/payments/src/main.ts', {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${REGISTER_TS}`.trim(),
    ...workerProcessEnv({ outboxSchema: db.schema, inboxSchema, paymentsSchema, stream: ns.stream, subjectPrefix: ns.subjectPrefix }),
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
        AND (strpos(query, $1) > 0 OR strpos(query, $2) > 0 OR strpos(query, $3) > 0)
      ORDER BY application_name, state`,
    [db.schema, inboxSchema, paymentsSchema],
  );
  return rows.map(({ application, state }) => ({ application, state }));
}

it('survives the death of every session during a charge; the payment succeeds once, PaymentStarted and PaymentSucceeded published once', async () => {
  worker = startWorker();
  const proc = worker;
  await waitFor('the worker to consume', () => (alive(proc), proc.logs.some((l) => l.msg === 'payment worker consuming')), 60_000);
  const { orderId, eventId } = await enqueueOrderCreated(outbox, { amount: 30 });

  // The gateway has charged and its answer is 1.5 s away; the inbox transaction is idle in transaction.
  await waitFor('the charge to be made', async () => (alive(proc), (await ledger(orderId))[0]?.charge_id ?? undefined));
  const killed = await terminateWorkerSessions();
  expect(killed).toContainEqual({ application: 'payments', state: 'idle in transaction' });

  const payment = await waitFor('the payment to succeed after the redelivery', async () => {
    alive(proc);
    const row = await paymentRow(db.pool, paymentsSchema, orderId);
    return row?.status === 'SUCCEEDED' ? row : undefined;
  }, 20_000);
  const failedAttempt = proc.logs.find((l) => l.msg === 'processing failed outside the handler; redelivery requested');
  expect(failedAttempt).toMatchObject({ eventId, err: { code: '57P01' } });
  const [charge] = await ledger(orderId);
  expect(await ledger(orderId)).toEqual([{ calls: 2, charge_id: expect.any(String) }]);
  expect(payment).toEqual({ status: 'SUCCEEDED', charge_id: charge!.charge_id, failure_reason: null, source_event_id: eventId });
  expect((await paymentEvents(db.pool, db.schema, orderId)).map((e) => e.eventType)).toEqual(['PaymentStarted', 'PaymentSucceeded']);
  const paid = proc.logs.find((l) => l.msg === 'payment succeeded' && l.orderId === orderId);
  expect(paid).toMatchObject({ attempt: 2, chargeReplayed: true, chargeId: charge!.charge_id });

  // The embedded relay got its sessions back too: the payment's events go out, once each.
  const published = await waitFor('PaymentSucceeded in the stream', async () => {
    alive(proc);
    const messages = messagesOf(await readStream(ns.nc, ns.stream), 'Payment', orderId);
    return messages.some((m) => m.eventType === 'PaymentSucceeded') ? messages : undefined;
  }, 20_000);
  expect(published.map((m) => m.eventType)).toEqual(['PaymentStarted', 'PaymentSucceeded']);

  expect(await proc.stop('SIGTERM')).toBe(0);
  const last = proc.logs.filter((l) => l.msg === 'payments metrics').at(-1);
  expect(last?.metrics).toMatchObject({ processed: 1, succeeded: 1, failed: 0, retried: 0, deadLettered: 0, infrastructureErrors: 1 });
});
