/**
 * Graceful switchover: a leader asked to step down (through the database, as `outboxctl step-down` does, or
 * locally, as the relay's POST /step-down does) finishes its batch, releases the lease, and another relay takes
 * over at once with a new epoch; nothing is lost or reordered across the hand-over.
 */
import { Outbox, outboxTables, type OutboxRelay } from '@outbox-relay/outbox';
import { createTestSchema, type TestSchema, createTestStream, readStream, waitFor, type TestStream, makeRelay } from '@outbox-relay/test-support';

let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;
let relays: OutboxRelay[] = [];
// A long lease: a takeover by expiry would take 8 s, so a fast takeover proves the release.
const LEASE = { leaseMs: 8000, renewMs: 2000 };

beforeEach(async () => {
  db = await createTestSchema('stepdown');
  ns = await createTestStream('stepdown');
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
  relays = [makeRelay(db, ns, ns.nc, LEASE), makeRelay(db, ns, ns.nc, LEASE)];
  await Promise.all(relays.map((r) => r.start()));
});
afterEach(async () => {
  await Promise.all(relays.map((r) => r.stop()));
  await outbox.close();
  await ns.drop();
  await db.drop();
});

const leader = () => waitFor('a leader', () => relays.find((r) => r.status().leading));
const lease = async () =>
  (await db.pool.query(`SELECT holder, epoch::int AS epoch, step_down_epoch::int AS asked FROM "${db.schema}".outbox_partitions`)).rows[0] as {
    holder: string | null;
    epoch: number;
    asked: number | null;
  };

async function writeSteps(aggregates: string[], from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) {
    await outbox.transaction((tx) =>
      outbox.enqueue(tx, aggregates.map((a) => ({ aggregateType: 'Acct', aggregateId: a, eventType: 'Step', payload: { n } }))),
    );
  }
}

async function expectAllOnceInOrder(total: number): Promise<void> {
  await waitFor(`${total} events in the stream`, async () => {
    const info = await ns.nc.request(`$JS.API.STREAM.INFO.${ns.stream}`).then((m) => m.json<{ state?: { messages: number } }>());
    return (info.state?.messages ?? 0) >= total || undefined;
  });
  const messages = await readStream(ns.nc, ns.stream);
  expect(messages).toHaveLength(total);
  for (const aggregate of new Set(messages.map((m) => m.aggregateId))) {
    const steps = messages.filter((m) => m.aggregateId === aggregate).map((m) => (m.data as { n: number }).n);
    expect(steps).toEqual(steps.map((_, i) => i + 1));
  }
}

it('hands over when the database asks the current epoch to step down (outboxctl step-down)', async () => {
  const first = await leader();
  const before = await lease();
  expect(before.holder).toBe(first.settings.instanceId);
  await writeSteps(['a', 'b'], 1, 20);

  const askedAt = Date.now();
  await db.pool.query(`UPDATE "${db.schema}".outbox_partitions SET step_down_epoch = epoch WHERE partition = 0`);
  await db.pool.query(`SELECT pg_notify($1, 'step-down:0')`, [outboxTables(db.schema).channel]);
  const second = relays.find((r) => r !== first)!;
  await waitFor('the other relay to lead', () => second.status().leading || undefined, 4000, 5);
  expect(Date.now() - askedAt).toBeLessThan(LEASE.leaseMs / 2);
  expect(first.status().leading).toBe(false);
  const after = await lease();
  expect(after).toMatchObject({ holder: second.settings.instanceId, epoch: before.epoch + 1 });

  await writeSteps(['a', 'b'], 21, 30);
  await expectAllOnceInOrder(60);
});

it('ignores a step-down request for an epoch that is no longer current', async () => {
  const first = await leader();
  const { epoch } = await lease();
  await db.pool.query(`UPDATE "${db.schema}".outbox_partitions SET step_down_epoch = $1 - 1`, [epoch]);
  await db.pool.query(`SELECT pg_notify($1, 'step-down:0')`, [outboxTables(db.schema).channel]);
  // Two renewals later the same leader still holds the same epoch.
  const renewed = async () => (await db.pool.query(`SELECT renewed_at FROM "${db.schema}".outbox_partitions`)).rows[0].renewed_at as Date;
  const start = await renewed();
  await waitFor('two more renewals', async () => ((await renewed()).getTime() - start.getTime() >= LEASE.renewMs * 2 ? true : undefined), 10_000, 100);
  expect(await lease()).toMatchObject({ holder: first.settings.instanceId, epoch });
  expect(first.status().leading).toBe(true);
});

it('steps down locally (POST /step-down) while events flow, losing and reordering nothing', async () => {
  const first = await leader();
  const writing = writeSteps(['x', 'y', 'z'], 1, 40);
  await waitFor('publishing under way', async () => {
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM "${db.schema}".outbox_published`);
    return rows[0].n > 0 || undefined;
  });
  // Asked twice at once (as a request seen at every renewal would be): one hand-over, both callers see it.
  const [released, again] = await Promise.all([first.stepDown(), first.stepDown()]);
  expect(released).toEqual([{ partition: 0, epoch: expect.any(Number) }]);
  expect(again).toEqual(released);
  const second = relays.find((r) => r !== first)!;
  await waitFor('the other relay to lead', () => second.status().leading || undefined, 2000, 5);
  await writing;
  await expectAllOnceInOrder(120);
  // The one that stepped down waits a lease before campaigning again, so it has not taken the lease back.
  expect(first.status().leading).toBe(false);
});
