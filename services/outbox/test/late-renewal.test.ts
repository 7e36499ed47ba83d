/**
 * A lease renewal that is merely late (a busy pool, a slow database) pauses publishing past the local deadline,
 * and publishing resumes under the same epoch once the renewal succeeds: the partition must not stay held by a
 * relay that no longer publishes it.
 */
import { Outbox, type OutboxRelay } from '@outbox-relay/outbox';
import { createTestSchema, type TestSchema, createTestStream, readStream, waitFor, type TestStream, makeRelay } from '@outbox-relay/test-support';

let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;
let relay: OutboxRelay;

beforeAll(async () => {
  db = await createTestSchema('late');
  ns = await createTestStream('late');
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
  // A lease long enough that a loaded machine does not lose it by a late renewal before the test blocks one.
  relay = makeRelay(db, ns, ns.nc, { leaseMs: 3000, renewMs: 300 });
  await relay.start();
});
afterAll(async () => {
  await relay.stop();
  await outbox.close();
  await ns.drop();
  await db.drop();
});

const write = (n: number) =>
  outbox.transaction((tx) => outbox.enqueue(tx, { aggregateType: 'Order', aggregateId: 'late', eventType: 'Step', payload: { n } }));

it('resumes publishing under the same epoch after a renewal that came back late', async () => {
  await waitFor('the relay to lead', () => relay.status().leading || undefined);
  await write(1);
  await waitFor('the first event published', async () => ((await readStream(ns.nc, ns.stream).catch(() => [])).length === 1 ? true : undefined));
  const epoch = relay.status().partitions[0]!.epoch;

  // Another transaction holds the lease row: the next renewal waits on it past the relay's local deadline.
  const blocker = await db.pool.connect();
  try {
    await blocker.query('BEGIN');
    await blocker.query(`SELECT 1 FROM "${db.schema}".outbox_partitions WHERE partition = 0 FOR UPDATE`);
    await waitFor('the local deadline to pass', () => !relay.status().leading || undefined, 15_000, 10);
    await write(2);
  } finally {
    await blocker.query('COMMIT');
    blocker.release();
  }

  // The blocked renewal now succeeds (the lease never expired): same epoch, and the relay publishes again.
  await waitFor('the relay to lead again', () => relay.status().leading || undefined, 15_000, 10);
  expect(relay.status().partitions[0]!.epoch).toBe(epoch);
  await write(3);
  const messages = await waitFor('all three events published', async () => {
    const m = await readStream(ns.nc, ns.stream).catch(() => []);
    return m.length >= 3 ? m : undefined;
  }, 10_000);
  expect(messages.map((m) => (m.data as { n: number }).n)).toEqual([1, 2, 3]);
});
