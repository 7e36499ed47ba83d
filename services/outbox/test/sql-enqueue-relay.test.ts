/**
 * Events written by `<schema>.enqueue(...)` from plain SQL (a pg Client sending SQL text, and the real `psql`), the
 * way a Go, Java or Python service writes them, go through a running relay like events written by the TypeScript
 * `enqueue`: published with the same subject and headers, in commit order per aggregate (the same aggregate lock as
 * TypeScript writers), at once thanks to the NOTIFY, and never when the transaction rolls back.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Client, type QueryResult } from 'pg';
import { configurePartitions, enqueue, outboxTables, type OutboxRelay } from '@outbox-relay/outbox';
import { makeRelay, readStream, relayTestBed, TEST_DATABASE_URL, testNeeding, waitFor, type StoredMessage } from '@outbox-relay/test-support';

const withPsql = testNeeding('psql');

const bed = relayTestBed('sqlenq_relay');
const schema = () => bed.db.schema;

async function startRelay(overrides: Parameters<typeof makeRelay>[3] = {}): Promise<OutboxRelay> {
  const relay = makeRelay(bed.db, bed.ns, bed.ns.nc, overrides);
  bed.relays.push(relay);
  await relay.start();
  return relay;
}

/** A plain connection, as any driver of another language has: SQL text in, rows out. */
async function connect(): Promise<Client> {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  return client;
}

async function pidOf(client: Client): Promise<number> {
  return (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
}

/** Messages in the stream once it holds at least `n` (awaited, not slept for). */
async function streamHolds(n: number, timeoutMs = 15_000): Promise<StoredMessage[]> {
  return waitFor(
    `${n} messages in the stream`,
    async () => {
      const messages = await readStream(bed.ns.nc, bed.ns.stream).catch(() => []);
      return messages.length >= n ? messages : undefined;
    },
    timeoutMs,
  );
}

/**
 * Resolves once backend `pid` waits for a lock: pg_stat_activity shows it waiting on an advisory Lock, and pg_locks
 * says which: `aggregate` (the writers' per-aggregate lock of `key`) or the partition map.
 */
async function waitUntilWaiting(pid: number, lock: { aggregate: string } | 'partition map'): Promise<void> {
  const [space, key] =
    lock === 'partition map' ? ['hashtext(\'outbox_partition_map\')', 'hashtext($2)'] : [String(outboxTables(schema()).lockSpace), 'hashtext($2)'];
  const keyText = lock === 'partition map' ? schema() : lock.aggregate;
  await waitFor(`backend ${pid} to wait on the ${lock === 'partition map' ? 'partition map lock' : `lock of ${lock.aggregate}`}`, async () => {
    const { rows } = await bed.db.pool.query(
      `SELECT a.wait_event_type, a.wait_event,
              EXISTS (SELECT 1 FROM pg_locks l
                      WHERE l.pid = a.pid AND NOT l.granted AND l.locktype = 'advisory' AND l.objsubid = 2
                        AND l.classid::text::bigint = ((${space})::bigint & 4294967295)
                        AND l.objid::text::bigint = ((${key})::bigint & 4294967295)) AS on_that_lock
       FROM pg_stat_activity a WHERE a.pid = $1`,
      [pid, keyText],
    );
    const row = rows[0];
    return (row?.wait_event_type === 'Lock' && row.wait_event === 'advisory' && row.on_that_lock) || undefined;
  });
}

/** The SQL a writer in another language sends (a literal, as psql or a driver's simple query would). */
function enqueueSql(aggregateType: string, aggregateId: string, eventType: string, payload: unknown, headers?: Record<string, string>): string {
  const literal = (v: string) => `'${v.replace(/'/g, "''")}'`;
  const args = [literal(aggregateType), literal(aggregateId), literal(eventType), `${literal(JSON.stringify(payload))}::jsonb`];
  if (headers) args.push(`${literal(JSON.stringify(headers))}::jsonb`);
  return `SELECT * FROM "${schema()}".enqueue(${args.join(', ')})`;
}

const numbers = (messages: StoredMessage[], aggregateId: string) =>
  messages.filter((m) => m.aggregateId === aggregateId).map((m) => (m.data as { n: number }).n);

describe('written from plain SQL in a business transaction', () => {
  it('is published by a running relay with the subject, headers and payload of a TypeScript-written event; a rollback publishes nothing', async () => {
    await startRelay();
    await bed.db.pool.query(`CREATE TABLE "${schema()}".orders (id text PRIMARY KEY, total numeric NOT NULL)`);
    const headers = { correlationId: 'req-42', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tenant: 'acme' };
    const payload = { orderId: 'o-1', total: 12.5, lines: [{ sku: 'A', qty: 2 }] };
    const client = await connect();
    try {
      // Rolled back: neither the order nor its event exists, and nothing is published.
      await client.query('BEGIN');
      await client.query(`INSERT INTO "${schema()}".orders VALUES ('o-0', 1)`);
      const rolledBack = (await client.query(enqueueSql('Order', 'o-0', 'OrderCreated', { orderId: 'o-0' }))).rows[0];
      await client.query('ROLLBACK');
      // Committed.
      await client.query('BEGIN');
      await client.query(`INSERT INTO "${schema()}".orders VALUES ('o-1', 12.5)`);
      const { rows } = await client.query<{ id: string; seq: string; partition: number }>(enqueueSql('Order', 'o-1', 'OrderCreated', payload, headers));
      await client.query('COMMIT');
      const written = rows[0]!;
      // The same event from the TypeScript writer, for comparison.
      const [fromTs] = await bed.outbox.transaction((tx) => enqueue(tx, { aggregateType: 'Order', aggregateId: 'o-1', eventType: 'OrderCreated', payload, headers }, { schema: schema() }));

      const messages = await streamHolds(2);
      expect(messages).toHaveLength(2);
      const [sql, ts] = messages as [StoredMessage, StoredMessage];
      expect(sql.subject).toBe(`${bed.ns.subjectPrefix}.Order.OrderCreated`);
      expect(sql.data).toEqual(payload);
      expect(sql.headers).toEqual({
        'Nats-Msg-Id': written.id,
        'Outbox-Event-Id': written.id,
        'Outbox-Event-Type': 'OrderCreated',
        'Outbox-Aggregate-Type': 'Order',
        'Outbox-Aggregate-Id': 'o-1',
        'Outbox-Partition': String(written.partition),
        'Outbox-Seq': String(written.seq),
        'Outbox-Correlation-Id': 'req-42',
        'Nats-Expected-Stream': bed.ns.stream,
        traceparent: headers.traceparent,
        tenant: 'acme',
      });
      // Indistinguishable from the TypeScript-written one, but for its own id and seq.
      expect(ts.subject).toBe(sql.subject);
      expect(ts.data).toEqual(sql.data);
      expect({ ...ts.headers, 'Nats-Msg-Id': '', 'Outbox-Event-Id': '', 'Outbox-Seq': '' }).toEqual({ ...sql.headers, 'Nats-Msg-Id': '', 'Outbox-Event-Id': '', 'Outbox-Seq': '' });
      expect(ts.eventId).toBe(fromTs!.id);

      expect(messages.map((m) => m.eventId)).not.toContain(rolledBack.id);
      const { rows: left } = await bed.db.pool.query(
        `SELECT (SELECT count(*)::int FROM "${schema()}".outbox WHERE aggregate_id = 'o-0') AS events,
                (SELECT count(*)::int FROM "${schema()}".orders WHERE id = 'o-0') AS orders`,
      );
      expect(left[0]).toEqual({ events: 0, orders: 0 });
    } finally {
      await client.end();
    }
  });

  withPsql('from the real psql with a here-doc script: published; a script that fails leaves neither its business row nor its event', async () => {
    await startRelay();
    await bed.db.pool.query(`CREATE TABLE "${schema()}".shipments (id text PRIMARY KEY, carrier text NOT NULL)`);
    const run = (script: string) => promisify(execFile)('bash', ['-c', script], { env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL } });
    const psql = (body: string) => `psql "$DATABASE_URL" -X -q -At -v ON_ERROR_STOP=1 <<'SQL'\n${body}\nSQL\n`;

    const { stdout } = await run(
      psql(`BEGIN;
INSERT INTO "${schema()}".shipments (id, carrier) VALUES ('s-1', 'DHL');
SELECT * FROM "${schema()}".enqueue('Shipment', 's-1', 'ShipmentSent', '{"shipmentId": "s-1", "carrier": "DHL"}', '{"correlationId": "req-7"}');
COMMIT;`),
    );
    const [id, seq, partition] = stdout.trim().split('|');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    // A bad event: psql stops at the error (exit status 3) and the transaction, business row included, is gone.
    const failed = (await run(
      psql(`BEGIN;
INSERT INTO "${schema()}".shipments (id, carrier) VALUES ('s-2', 'UPS');
SELECT * FROM "${schema()}".enqueue('Shipment', 's-2', 'Shipment.Sent', '{}');
COMMIT;`),
    ).catch((e: unknown) => e)) as { code?: number; stderr?: string };
    expect(failed.code).toBe(3);
    expect(failed.stderr).toContain('outbox.enqueue: event_type must be 1-128 letters');

    const [message] = await streamHolds(1);
    expect(message!.subject).toBe(`${bed.ns.subjectPrefix}.Shipment.ShipmentSent`);
    expect(message!.data).toEqual({ shipmentId: 's-1', carrier: 'DHL' });
    expect(message!.headers).toMatchObject({
      'Nats-Msg-Id': id,
      'Outbox-Event-Id': id,
      'Outbox-Seq': seq,
      'Outbox-Partition': partition,
      'Outbox-Aggregate-Id': 's-1',
      'Outbox-Correlation-Id': 'req-7',
    });
    const { rows } = await bed.db.pool.query(
      `SELECT (SELECT count(*)::int FROM "${schema()}".outbox WHERE aggregate_id = 's-2') AS events,
              (SELECT count(*)::int FROM "${schema()}".shipments WHERE id = 's-2') AS shipments`,
    );
    expect(rows[0]).toEqual({ events: 0, shipments: 0 });
  });
});

describe('commit order per aggregate', () => {
  it('a second SQL writer of the aggregate waits for the first one\'s lock: seq order and stream order are commit order', async () => {
    await startRelay();
    const first = await connect();
    const second = await connect();
    const secondPid = await pidOf(second); // asked before its connection is busy waiting
    try {
      await first.query('BEGIN');
      const one = (await first.query(enqueueSql('Account', 'acct-1', 'Step', { n: 1 }))).rows[0];
      await second.query('BEGIN');
      // The second writer draws no seq yet: it waits on the aggregate's lock (observed, not slept for).
      const twoPending = second.query(enqueueSql('Account', 'acct-1', 'Step', { n: 2 }));
      twoPending.catch(() => undefined); // (awaited below; not unhandled if the test fails first)
      await waitUntilWaiting(secondPid, { aggregate: 'Account/acct-1' });
      await first.query('COMMIT');
      const two = (await twoPending).rows[0];
      await second.query('COMMIT');
      expect(BigInt(one.seq)).toBeLessThan(BigInt(two.seq));
      const messages = await streamHolds(2);
      expect(numbers(messages, 'acct-1')).toEqual([1, 2]);
      expect(messages.map((m) => m.eventId)).toEqual([one.id, two.id]);
    } finally {
      await Promise.all([first.end(), second.end()]);
    }
  });

  it('SQL and TypeScript writers of one aggregate wait on the same lock, whichever comes first', async () => {
    await startRelay();
    const sql = await connect();
    const ts = await bed.db.pool.connect();
    const sqlPid = await pidOf(sql);
    const tsPid = (await ts.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    try {
      // TypeScript first: the SQL writer waits.
      await ts.query('BEGIN');
      await enqueue(ts, { aggregateType: 'Account', aggregateId: 'acct-2', eventType: 'Step', payload: { n: 1 } }, { schema: schema() });
      await sql.query('BEGIN');
      const sqlWrite = sql.query(enqueueSql('Account', 'acct-2', 'Step', { n: 2 }));
      sqlWrite.catch(() => undefined);
      await waitUntilWaiting(sqlPid, { aggregate: 'Account/acct-2' });
      await ts.query('COMMIT');
      await sqlWrite;
      // SQL holds the lock now (its transaction is open): the TypeScript writer waits.
      await ts.query('BEGIN');
      const tsWrite = enqueue(ts, { aggregateType: 'Account', aggregateId: 'acct-2', eventType: 'Step', payload: { n: 3 } }, { schema: schema() });
      tsWrite.catch(() => undefined);
      await waitUntilWaiting(tsPid, { aggregate: 'Account/acct-2' });
      await sql.query('COMMIT');
      await tsWrite;
      await ts.query('COMMIT');
      bed.outbox.wake();
      expect(numbers(await streamHolds(3), 'acct-2')).toEqual([1, 2, 3]);
    } finally {
      ts.release();
      await sql.end();
    }
  });

  it('reads the partition count before taking the aggregate lock: a writer waiting behind a count change holds no aggregate lock', async () => {
    // W holds the partition map (shared) and aggregate B; a change of the count waits for W; X then writes aggregate
    // A and waits behind the change. Reading the count first, X waits holding nothing, so W can still write A and
    // commit, and the change goes through. Locking A first, X would hold A while it waits behind the change, which
    // waits for W, which would wait for A: a deadlock (Postgres only untangles it by letting X jump the queue).
    await startRelay();
    const w = await connect();
    const x = await connect();
    const xPid = await pidOf(x);
    try {
      await w.query('BEGIN');
      await w.query(enqueueSql('Account', 'B', 'Step', { n: 1 }));
      const change = configurePartitions(bed.db.pool, schema(), 3);
      change.catch(() => undefined);
      await waitFor('the count change to wait for the writer', async () => {
        const { rows } = await bed.db.pool.query(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 2
             AND classid::text::bigint = (hashtext('outbox_partition_map')::bigint & 4294967295)
             AND objid::text::bigint = (hashtext($1)::bigint & 4294967295)`,
          [schema()],
        );
        return rows[0].n > 0 || undefined;
      });
      await x.query('BEGIN');
      const xWrite = x.query(enqueueSql('Account', 'A', 'Step', { n: 1 }));
      xWrite.catch(() => undefined);
      await waitUntilWaiting(xPid, 'partition map');
      const { rows: held } = await bed.db.pool.query(`SELECT count(*)::int AS n FROM pg_locks WHERE pid = $1 AND locktype = 'advisory' AND granted`, [xPid]);
      expect(held[0].n).toBe(0);
      // W is not held up by X (a lock timeout, not the test's, says so if it were).
      await w.query(`SET LOCAL lock_timeout = '5s'`);
      await w.query(enqueueSql('Account', 'A', 'Step', { n: 0 }));
      await w.query('COMMIT');
      expect(await change).toBe(3);
      const written = (await xWrite).rows[0];
      await x.query('COMMIT');
      // X wrote under the new count, where the TypeScript writer puts A too.
      const probe = await bed.db.pool.connect();
      try {
        await probe.query('BEGIN');
        const [ts] = await enqueue(probe, { aggregateType: 'Account', aggregateId: 'A', eventType: 'Probe', payload: null }, { schema: schema() });
        await probe.query('ROLLBACK');
        expect(written.partition).toBe(ts!.partition);
      } finally {
        probe.release();
      }
      expect(numbers(await streamHolds(3), 'A')).toEqual([0, 1]);
    } finally {
      await Promise.all([w.end(), x.end()]);
    }
  });
});

describe('many calls', () => {
  it('in one transaction and from many transactions at once: every committed event once, per aggregate in commit order', async () => {
    await startRelay();
    await bed.db.pool.query(`CREATE TABLE "${schema()}".accounts (id text PRIMARY KEY, version int NOT NULL DEFAULT 0)`);
    const accounts = ['a-0', 'a-1', 'a-2', 'a-3'];
    await bed.db.pool.query(`INSERT INTO "${schema()}".accounts (id) SELECT unnest($1::text[])`, [accounts]);
    let committed = 0;
    const worker = async (w: number) => {
      const client = await connect();
      try {
        for (let i = 0; i < 12; i++) {
          const account = accounts[(w * 3 + i) % accounts.length]!;
          const rollback = (w + i) % 5 === 0;
          await client.query('BEGIN');
          const { rows } = await client.query(`UPDATE "${schema()}".accounts SET version = version + 1 WHERE id = '${account}' RETURNING version`);
          const v = rows[0].version as number;
          // Three calls in one transaction: two for the account, one for a shared audit aggregate.
          await client.query(enqueueSql('Account', account, 'Step', { n: v * 2 - 1 }));
          await client.query(enqueueSql('Audit', `log-${w % 2}`, 'Touched', { n: w * 100 + i }));
          await client.query(enqueueSql('Account', account, 'Step', { n: v * 2 }));
          await client.query(rollback ? 'ROLLBACK' : 'COMMIT');
          if (!rollback) committed += 3;
        }
      } finally {
        await client.end();
      }
    };
    await Promise.all(Array.from({ length: 6 }, (_, w) => worker(w)));
    const messages = await streamHolds(committed, 30_000);
    expect(messages).toHaveLength(committed);
    expect(new Set(messages.map((m) => m.eventId)).size).toBe(committed);
    const { rows: finals } = await bed.db.pool.query(`SELECT id, version FROM "${schema()}".accounts`);
    for (const { id, version } of finals) {
      expect(numbers(messages, id)).toEqual(Array.from({ length: version * 2 }, (_, k) => k + 1));
    }
    // The audit aggregates have no row lock of their own: only the aggregate lock makes their seq order commit order,
    // and the relay publishes in seq order, so their stream order is seq order only if it is commit order.
    for (const log of ['log-0', 'log-1']) {
      const seqs = messages.filter((m) => m.aggregateId === log).map((m) => BigInt(m.headers['Outbox-Seq']!));
      expect(seqs).toEqual([...seqs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    }
  });
});

describe('the wake-up', () => {
  it('a relay that polls once an hour publishes an event written from SQL at once: the NOTIFY woke it', async () => {
    // Count the relay's reads that found nothing: once one has, the relay sleeps until its next poll (an hour away)
    // or a wake-up; an event committed after that read is published only if something wakes the relay.
    let emptyReads = 0;
    const pool = bed.db.pool;
    const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<QueryResult> | undefined;
    (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const result = query(...args);
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text;
      if (result && text?.includes('outbox_read_pending')) result.then((r) => r.rowCount === 0 && emptyReads++, () => undefined);
      return result;
    };
    await startRelay({ pollMs: 3_600_000 });
    await waitFor('the relay to read the empty outbox', () => emptyReads > 0);

    const client = await connect();
    try {
      await client.query('BEGIN');
      const written = (await client.query(enqueueSql('Order', 'woken', 'OrderCreated', { n: 1 }))).rows[0];
      await client.query('COMMIT');
      const [message] = await streamHolds(1, 20_000);
      expect(message!.eventId).toBe(written.id);
    } finally {
      await client.end();
    }
  });
});
