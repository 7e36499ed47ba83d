/**
 * Changing the partition count under concurrent writers and running relays (issue 13, case 3). The change takes
 * the partition map lock (writers hold it shared from their first event to their commit), waits for the relays to
 * drain the outbox, and then changes the count; running relays take the new partitions up at once.
 */
import { configurePartitions, Outbox, SchemaError } from '@outbox-relay/outbox';
import { relayTestBed, type TestSchema, readStream, waitFor, type TestStream, makeRelay, countPendingEvents } from '@outbox-relay/test-support';

const bed = relayTestBed('pchange', { partitions: 4 });
const relays = bed.relays;
let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;
beforeEach(() => ({ db, ns, outbox } = bed));

async function startRelays(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const relay = makeRelay(db, ns, ns.nc, { instanceId: `r${i}-${relays.length}` });
    relays.push(relay);
    await relay.start();
  }
}

const t = () => `"${db.schema}"`;
const step = (aggregateId: string, n: number) => ({ aggregateType: 'Acct', aggregateId, eventType: 'Step', payload: { a: aggregateId, n } });

async function drained(): Promise<void> {
  await waitFor('every event published', async () => (await countPendingEvents(db.pool, db.schema)) === 0 || undefined, 30_000);
}

it('waits for a writer whose transaction is open across the change: its event lands in a partition that exists and is published', async () => {
  await startRelays(1);
  const writer = await db.pool.connect();
  try {
    await writer.query('BEGIN');
    // An aggregate that lives in partition 2 or 3 under 4 partitions: gone under 2.
    let written: { id: string; partition: number } | undefined;
    for (let i = 0; !written || written.partition < 2; i++) {
      if (written) await writer.query('ROLLBACK').then(() => writer.query('BEGIN'));
      [written] = await outbox.enqueue(writer, step(`late-${i}`, 1));
    }
    const change = configurePartitions(db.pool, db.schema, 2);
    // The change waits on the partition map lock the open writer holds (seen in pg_locks, not guessed by time).
    await waitFor('the change to wait for the writer', async () => {
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
      return rows[0].n > 0 || undefined;
    });
    await writer.query('COMMIT');
    expect(await change).toBe(2);
    await drained();
    const stored = await readStream(ns.nc, ns.stream);
    expect(stored.map((m) => m.eventId)).toContain(written.id);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${t()}.outbox_partitions WHERE partition >= 2`);
    expect(rows[0].n).toBe(0);
  } finally {
    writer.release();
  }
});

it('a relay that never got the NOTIFY of a change (lost while its listen connection was down) follows it at its next balance check', async () => {
  await startRelays(1);
  await waitFor('the relay to lead all 4 partitions', () => (relays[0]!.status().partitions.filter((p) => p.leading).length === 4 ? true : undefined));
  // What configurePartitions changes, without the NOTIFY that would tell the relay at once.
  await db.pool.query(`BEGIN; UPDATE ${t()}.outbox_settings SET partitions = 6;
    INSERT INTO ${t()}.outbox_partitions (partition) SELECT generate_series(0, 5) ON CONFLICT DO NOTHING; COMMIT;`);
  await waitFor('the relay to lead all 6 partitions', () => (relays[0]!.status().partitions.filter((p) => p.leading).length === 6 ? true : undefined), 30_000);
  for (let n = 1; n <= 24; n++) await outbox.transaction((tx) => outbox.enqueue(tx, step(`acct-${n % 12}`, Math.ceil(n / 12))));
  await drained();
  const { rows } = await db.pool.query(`SELECT count(DISTINCT partition)::int AS n FROM ${t()}.outbox WHERE partition >= 4`);
  expect(rows[0].n).toBeGreaterThan(0);
});

it('under running relays and concurrent writers, grows and shrinks: the relays follow, every event once and in order', async () => {
  await startRelays(2);
  const next = new Map<string, number>();
  let running = true;
  let written = 0;
  const writing = (async () => {
    while (running) {
      const a = `acct-${written % 16}`;
      const n = (next.get(a) ?? 0) + 1;
      next.set(a, n);
      await outbox.transaction((tx) => outbox.enqueue(tx, step(a, n)));
      written++;
    }
  })();
  try {
    await waitFor('some events written', () => (written > 100 ? true : undefined));
    expect(await configurePartitions(db.pool, db.schema, 6)).toBe(6);
    await waitFor('the relays to lead all 6 partitions', () => {
      const led = new Set(relays.flatMap((r) => r.status().partitions.filter((p) => p.leading).map((p) => p.partition)));
      return led.size === 6 ? true : undefined;
    }, 30_000);
    const mark = written;
    await waitFor('more events written', () => (written > mark + 100 ? true : undefined));
    expect(await configurePartitions(db.pool, db.schema, 3)).toBe(3);
    await waitFor('the relays to give partitions 3..5 up', () =>
      relays.every((r) => r.status().partitions.length === 3) ? true : undefined,
    );
    const again = written;
    await waitFor('more events written', () => (written > again + 100 ? true : undefined));
  } finally {
    running = false;
    await writing;
  }
  await drained();
  // Events went to partitions that only existed while the count was 6, and were published from there.
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${t()}.outbox WHERE partition >= 3`);
  expect(rows[0].n).toBeGreaterThan(0);
  const stored = await readStream(ns.nc, ns.stream);
  expect(stored).toHaveLength(written);
  expect(new Set(stored.map((m) => m.eventId)).size).toBe(written);
  const steps = new Map<string, number[]>();
  for (const m of stored) {
    const { a, n } = m.data as { a: string; n: number };
    steps.set(a, [...(steps.get(a) ?? []), n]);
  }
  for (const list of steps.values()) expect(list).toEqual(list.map((_, i) => i + 1));
}, 120_000);

it('a REPEATABLE READ writer whose snapshot predates the change gets a serialization error and writes nothing', async () => {
  const writer = await db.pool.connect();
  try {
    await writer.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await writer.query('SELECT 1');
    expect(await configurePartitions(db.pool, db.schema, 2)).toBe(2);
    const error = await outbox.enqueue(writer, step('rr', 1)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '40001' });
    await writer.query('ROLLBACK');
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${t()}.outbox`);
    expect(rows[0].n).toBe(0);
  } finally {
    writer.release();
  }
});

it('without a relay the change gives up after its drain timeout, changes nothing, and writers go on', async () => {
  await outbox.transaction((tx) => outbox.enqueue(tx, step('stuck', 1)));
  const error = await configurePartitions(db.pool, db.schema, 2, { drainTimeoutMs: 300 }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(SchemaError);
  expect((error as Error).message).toMatch(/1 events still unpublished after 300 ms .*nothing changed/);
  const { rows } = await db.pool.query(`SELECT partitions FROM ${t()}.outbox_settings`);
  expect(rows[0].partitions).toBe(4);
  const [after] = await outbox.transaction((tx) => outbox.enqueue(tx, step('stuck', 2)));
  expect(after!.partition).toBeLessThan(4);
});
