import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import { TEST_DATABASE_URL, uniqueName } from '@outbox-relay/test-support';
import { accepts, httpJson, OrdersProcess } from './support/service-process';

const ordersSchema = uniqueName('main_or');
const outboxSchema = uniqueName('main_ob');
const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 3 });
const started: OrdersProcess[] = [];

function startOrders(env: Record<string, string>): OrdersProcess {
  const proc = new OrdersProcess(env);
  started.push(proc);
  return proc;
}

afterAll(async () => {
  for (const proc of started) proc.kill('SIGKILL');
  await Promise.all(started.map((p) => p.exited));
  await pool.query(`DROP SCHEMA IF EXISTS "${ordersSchema}" CASCADE`);
  await pool.query(`DROP SCHEMA IF EXISTS "${outboxSchema}" CASCADE`);
  await pool.end();
});

/** Resolves once a backend of the service waits on a lock in our schema (polls pg_stat_activity). */
async function untilRequestBlocked(): Promise<void> {
  for (;;) {
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE application_name = 'orders' AND wait_event_type = 'Lock' AND position($1 in query) > 0`,
      [ordersSchema],
    );
    if (rows[0]!.n > 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('orders main', () => {
  it('exits 2 naming each bad variable when the configuration is invalid', async () => {
    const proc = startOrders({ PORT: 'eighty' });
    expect(await proc.exited).toBe(2);
    expect(proc.stderr).toContain('PORT');
    expect(proc.stderr).toContain('DATABASE_URL');
  });

  it('migrates, serves, and on SIGTERM stops accepting, finishes the in-flight request and exits 0', async () => {
    const proc = startOrders({
      DATABASE_URL: TEST_DATABASE_URL,
      OUTBOX_MIGRATE: 'true',
      OUTBOX_SCHEMA: outboxSchema,
      ORDERS_SCHEMA: ordersSchema,
      ORDERS_RELAY_ENABLED: 'false',
      PORT: '0',
      SHUTDOWN_TIMEOUT_MS: '20000',
    });
    const listening = await proc.waitForLog('listening');
    const port = listening.port as number;
    expect(port).toBeGreaterThan(0);
    expect((await httpJson(port, 'GET', '/readyz')).status).toBe(200);
    const first = await httpJson(port, 'POST', '/orders', { customerId: randomUUID(), amount: 3 });
    expect(first.status).toBe(201);

    // Hold the idempotency key in an open transaction so the next request stays in flight.
    const blocker = await pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`INSERT INTO "${ordersSchema}".idempotency_keys (key, request_hash, order_id) VALUES ('held', 'x', $1)`, [
        randomUUID(),
      ]);
      const body = { customerId: randomUUID(), amount: 7.25 };
      const inFlight = httpJson(port, 'POST', '/orders', body, { 'idempotency-key': 'held' });
      await untilRequestBlocked();

      proc.kill('SIGTERM');
      await proc.waitForLog('stopped accepting connections; finishing in-flight requests');
      expect(await accepts(port)).toBe(false);
      // Still running, and the request is still in flight.
      expect(proc.child.exitCode).toBeNull();
      expect(await Promise.race([inFlight.then(() => 'answered'), accepts(port).then(() => 'pending')])).toBe('pending');

      await blocker.query('ROLLBACK');
      const response = await inFlight;
      expect(response.status).toBe(201);
      expect(response.headers.connection).toBe('close');
      expect(await proc.exited).toBe(0);

      const { rows } = await pool.query(`SELECT customer_id FROM "${ordersSchema}".orders WHERE id = $1`, [response.body.orderId]);
      expect(rows).toEqual([{ customer_id: body.customerId }]);
      expect(proc.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down', 'http server closed', 'shut down']));
    } finally {
      blocker.release(true);
    }
  });
});
