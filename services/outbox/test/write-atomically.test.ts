/**
 * `Outbox.write` / `writeAtomically`: a business statement and its events as ONE SQL statement. Invariant 1
 * (the business change and its events commit together or not at all) and the per-aggregate lock must hold
 * exactly as with `enqueue` inside a transaction.
 */
import { randomUUID } from 'node:crypto';
import { EventValidationError, Outbox, writeAtomically, type JsonValue } from '@outbox-relay/outbox';
import { Client } from 'pg';
import { TEST_DATABASE_URL, createTestSchema, type TestSchema, waitFor } from '@outbox-relay/test-support';

let db: TestSchema;
let outbox: Outbox;
let accounts: string;

beforeAll(async () => {
  db = await createTestSchema('atomic');
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
  accounts = `"${db.schema}".accounts`;
  await db.pool.query(`CREATE TABLE ${accounts} (id text PRIMARY KEY, balance numeric(12,2) NOT NULL, opened_at timestamptz NOT NULL DEFAULT now())`);
});
afterAll(async () => {
  await outbox.close();
  await db.drop();
});

const ev = (aggregateId: string, eventType: string, payload: { [key: string]: JsonValue } = {}) => ({ aggregateType: 'Account', aggregateId, eventType, payload });
const open = (id: string, balance = '10.00') => ({
  text: `INSERT INTO ${accounts} (id, balance) VALUES ($1, $2) RETURNING id, balance, opened_at, xmin::text AS xid`,
  values: [id, balance],
});

async function eventsOf(aggregateId: string) {
  const { rows } = await db.pool.query(
    `SELECT id::text, seq::text, event_type, xmin::text AS xid FROM "${db.schema}".outbox o WHERE aggregate_id = $1 ORDER BY o.seq`,
    [aggregateId],
  );
  return rows;
}

it('commits the business rows and the events in one transaction and returns both', async () => {
  const id = randomUUID();
  const result = await outbox.write<{ id: string; balance: string; opened_at: Date; xid: string }>(open(id), [
    ev(id, 'Opened', { n: 1 }),
    ev(id, 'Funded', { n: 2 }),
  ]);
  expect(result.rows).toHaveLength(1);
  expect(result.rows[0]).toEqual({ id, balance: '10.00', opened_at: expect.any(Date), xid: expect.any(String) });
  const stored = await eventsOf(id);
  expect(stored.map((e) => e.event_type)).toEqual(['Opened', 'Funded']);
  expect(result.events).toEqual(stored.map((e) => ({ id: e.id, seq: e.seq, partition: 0 })));
  for (const e of stored) expect(e.xid).toBe(result.rows[0]!.xid);
});

it('writes no event when the business statement returns no row (a conditional update that matches nothing)', async () => {
  const id = randomUUID();
  await outbox.write(open(id, '5.00'), ev(id, 'Opened'));
  const withdraw = (amount: string) => ({
    text: `UPDATE ${accounts} SET balance = balance - $2 WHERE id = $1 AND balance >= $2 RETURNING balance`,
    values: [id, amount],
  });
  const refused = await outbox.write(withdraw('7.00'), ev(id, 'Withdrawn', { amount: 7 }));
  expect(refused).toEqual({ rows: [], events: [] });
  const done = await outbox.write<{ balance: string }>(withdraw('3.00'), ev(id, 'Withdrawn', { amount: 3 }));
  expect(done.rows).toEqual([{ balance: '2.00' }]);
  expect((await eventsOf(id)).map((e) => e.event_type)).toEqual(['Opened', 'Withdrawn']);
});

it('writes neither when the business statement fails, nor when an event is invalid', async () => {
  const id = randomUUID();
  await outbox.write(open(id), ev(id, 'Opened'));
  await expect(outbox.write(open(id), ev(id, 'OpenedAgain'))).rejects.toMatchObject({ code: '23505' });
  const other = randomUUID();
  await expect(outbox.write(open(other), { ...ev(other, 'Opened'), aggregateType: 'not a token' })).rejects.toBeInstanceOf(
    EventValidationError,
  );
  expect((await eventsOf(id)).map((e) => e.event_type)).toEqual(['Opened']);
  expect(await eventsOf(other)).toEqual([]);
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${accounts} WHERE id = $1`, [other]);
  expect(rows[0].n).toBe(0);
});

it('refuses a business statement without RETURNING, naming the field', async () => {
  const id = randomUUID();
  const error = await outbox.write({ text: `INSERT INTO ${accounts} (id, balance) VALUES ($1, 1)`, values: [id] }, ev(id, 'Opened')).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(EventValidationError);
  expect((error as EventValidationError).issues).toEqual([{ path: 'business.text', message: expect.stringContaining('RETURNING') }]);
});

it('prepares the statement once per connection (and can be told not to)', async () => {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    const prepared = async () =>
      (await client.query<{ name: string }>(`SELECT name FROM pg_prepared_statements WHERE name LIKE 'outbox_write_%'`)).rows;
    const id1 = randomUUID();
    await writeAtomically(client, open(id1), ev(id1, 'Opened'), { schema: db.schema, preparedStatements: false });
    expect(await prepared()).toEqual([]);
    for (const id of [randomUUID(), randomUUID()]) await writeAtomically(client, open(id), ev(id, 'Opened'), { schema: db.schema });
    expect(await prepared()).toHaveLength(1);
  } finally {
    await client.end();
  }
});

it('holds the aggregate lock before drawing seqs: a second writer of the aggregate waits for the first to commit', async () => {
  // The two business statements touch different rows, so only the aggregate lock can make the second wait.
  const aggregate = randomUUID();
  const first = await db.pool.connect();
  const second = await db.pool.connect();
  try {
    await first.query('BEGIN');
    // Inside an open transaction the write joins it, so its lock is held until this COMMIT.
    const firstWrite = await writeAtomically(first, open(randomUUID()), ev(aggregate, 'First'), { schema: db.schema });
    const pid = (await second.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const secondWrite = writeAtomically(second, open(randomUUID()), ev(aggregate, 'Second'), { schema: db.schema });
    await waitFor('the second writer to wait for the aggregate lock', async () => {
      const { rows } = await db.pool.query(`SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1`, [pid]);
      return rows[0]?.wait_event_type === 'Lock' || undefined;
    });
    await first.query('COMMIT');
    const secondSeq = (await secondWrite).events[0]!.seq;
    expect(BigInt(secondSeq)).toBeGreaterThan(BigInt(firstWrite.events[0]!.seq));
    expect((await eventsOf(aggregate)).map((e) => e.event_type)).toEqual(['First', 'Second']);
  } finally {
    first.release();
    second.release();
  }
});

it('writes several business rows and their events in one statement, reporting each event once', async () => {
  const ids = [randomUUID(), randomUUID(), randomUUID()];
  const result = await outbox.write<{ id: string }>(
    { text: `INSERT INTO ${accounts} (id, balance) SELECT unnest($1::text[]), 1 RETURNING id`, values: [ids] },
    ids.map((id) => ev(id, 'Opened')),
  );
  expect(result.rows).toEqual(ids.map((id) => ({ id })));
  expect(result.events).toHaveLength(3);
  expect(new Set(result.events.map((e) => e.id)).size).toBe(3);
  for (const id of ids) expect((await eventsOf(id)).map((e) => e.event_type)).toEqual(['Opened']);
});
