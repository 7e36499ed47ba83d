/** readBacklog / readOldestTransactionAgeSeconds: the numbers behind the lag metrics and `status`. */
import { Outbox, readBacklog, readOldestTransactionAgeSeconds } from '@outbox-relay/outbox';
import { createTestSchema, type TestSchema } from '@outbox-relay/test-support';

let db: TestSchema;
let outbox: Outbox;
beforeAll(async () => {
  db = await createTestSchema('backlog', { partitions: 3 });
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
});
afterAll(async () => {
  await outbox.close();
  await db.drop();
});

it('counts pending events and the age of the oldest per partition, zero where nothing waits', async () => {
  const rows = await outbox.transaction((tx) =>
    outbox.enqueue(tx, Array.from({ length: 12 }, (_, i) => ({ aggregateType: 'Order', aggregateId: `b${i}`, eventType: 'E', payload: {} }))),
  );
  await db.pool.query(`UPDATE "${db.schema}".outbox SET created_at = now() - interval '90 seconds' WHERE seq = $1`, [rows[0]!.seq]);
  await db.pool.query(`UPDATE "${db.schema}".outbox SET published_at = now() WHERE seq = $1`, [rows[1]!.seq]);
  await db.pool.query(`UPDATE "${db.schema}".outbox_partitions SET holder = 'h', epoch = 7, expires_at = now() + interval '1 minute' WHERE partition = 1`);

  const backlog = await readBacklog(db.pool, db.schema);
  expect(backlog.map((b) => b.partition)).toEqual([0, 1, 2]);
  const expected = [0, 1, 2].map((p) => rows.filter((r, i) => r.partition === p && i !== 1).length);
  expect(backlog.map((b) => b.pending)).toEqual(expected);
  const oldest = backlog.find((b) => b.partition === rows[0]!.partition)!;
  expect(oldest.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(90);
  expect(backlog.find((b) => b.partition === 1)).toMatchObject({ holder: 'h', epoch: 7 });
  expect(backlog.filter((b) => b.partition !== 1).every((b) => b.holder === null)).toBe(true);
});

it('reports how long the oldest open transaction has been open', async () => {
  const client = await db.pool.connect();
  try {
    await client.query(`BEGIN; SET LOCAL statement_timeout = 0; SELECT pg_sleep(0)`);
    // Make it measurably old without sleeping: its xact_start is fixed, wait for the clock to move past 0.2 s.
    let age = 0;
    for (let i = 0; i < 100 && age < 0.2; i++) {
      age = await readOldestTransactionAgeSeconds(db.pool);
      if (age < 0.2) await new Promise((r) => setTimeout(r, 20));
    }
    expect(age).toBeGreaterThanOrEqual(0.2);
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
});

it('asks autovacuum to clean and analyze the outbox after about 1 % of changes (a queue table)', async () => {
  const { rows } = await db.pool.query(
    `SELECT reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'outbox'`,
    [db.schema],
  );
  expect(rows[0].reloptions).toEqual(
    expect.arrayContaining([
      'autovacuum_vacuum_scale_factor=0.01',
      'autovacuum_vacuum_insert_scale_factor=0.01',
      'autovacuum_analyze_scale_factor=0.01',
      'autovacuum_vacuum_cost_delay=0',
    ]),
  );
});
