/**
 * A read is bounded in bytes as well as in events (OUTBOX_BATCH_MAX_BYTES, migration 1733700000000), so what a relay
 * holds does not grow with the size of the events: a backlog of large events, read 1000 at a time, is more than a
 * relay pod's memory, and a relay killed for memory on every read would stall its partition for good.
 */
import { OutboxReader, type Fence } from '@outbox-relay/outbox/internal';
import {
  createTestSchema,
  createTestStream,
  readStream,
  relayProcessEnv,
  startService,
  waitFor,
  type ServiceProcess,
  type TestSchema,
  type TestStream,
} from '@outbox-relay/test-support';

let db: TestSchema;
const fence: Fence = { partition: 0, holder: 'batch-bytes-test', epoch: 1 };

beforeEach(async () => {
  db = await createTestSchema('batchbytes');
});
afterEach(async () => {
  await db.drop();
});

/** `count` events of aggregate `a-<n>`, each with a payload of about `bytes` bytes, in one transaction. */
async function insertLargeEvents(count: number, bytes: number): Promise<void> {
  await db.pool.query(
    `INSERT INTO "${db.schema}".outbox (id, partition, aggregate_type, aggregate_id, event_type, payload)
     SELECT gen_random_uuid(), 0, 'Doc', 'a-' || g, 'Stored', json_build_object('n', g, 'blob', repeat('x', $2))
     FROM generate_series(1, $1) AS g`,
    [count, bytes],
  );
}

async function holdLease(): Promise<void> {
  await db.pool.query(
    `UPDATE "${db.schema}".outbox_partitions SET holder = $1, epoch = $2, expires_at = now() + interval '1 hour' WHERE partition = 0`,
    [fence.holder, fence.epoch],
  );
}

it('returns the longest run of pending events within the bound, in seq order, and always the first one', async () => {
  await insertLargeEvents(6, 100_000);
  await holdLease();
  const payloadOf = (n: number) => JSON.stringify({ n, blob: 'x'.repeat(100_000) }).length;
  // Each event is its payload plus the headers' '{}' (2 bytes): two fit in 250,000 bytes, a third does not.
  const reader = new OutboxReader(db.pool, db.schema, { maxBatchBytes: 250_000 });
  const first = await reader.readPending(fence, 1000);
  expect(first?.map((r) => r.aggregateId)).toEqual(['a-1', 'a-2']);
  expect(first?.[0]?.payload.length).toBeGreaterThanOrEqual(payloadOf(1) - 10);
  // The events being marked are left out, and the bound applies to what follows them.
  const next = await reader.readPending(fence, 1000, first!.map((r) => r.seq));
  expect(next?.map((r) => r.aggregateId)).toEqual(['a-3', 'a-4']);
  // An event larger than the bound is read alone: never an empty read while events are pending.
  const tight = new OutboxReader(db.pool, db.schema, { maxBatchBytes: 1024 });
  expect((await tight.readPending(fence, 1000))?.map((r) => r.aggregateId)).toEqual(['a-1']);
  // The bound in events still holds.
  const wide = new OutboxReader(db.pool, db.schema, { maxBatchBytes: 1024 ** 3 });
  expect((await wide.readPending(fence, 4))?.map((r) => r.aggregateId)).toEqual(['a-1', 'a-2', 'a-3', 'a-4']);
});

describe('a relay process draining events of 200 KB with a small heap', () => {
  let ns: TestStream;
  let relay: ServiceProcess | null = null;
  beforeEach(async () => {
    ns = await createTestStream('batchbytes');
  });
  afterEach(async () => {
    await relay?.stop();
    relay = null;
    await ns.drop();
  });

  it('publishes every event in order, reading at most 1 MiB of them at a time', async () => {
    const EVENTS = 150;
    await insertLargeEvents(EVENTS, 200_000);
    // 150 events of 200 KB are 30 MB. Unbounded in bytes, the relay reads them 100 and then all the rest at a time
    // (this test then fails on the largest batch), and each batch is held several times over: the rows, their
    // strings, the encoded messages. With a 1 MiB bound each read holds 5, within a heap of 96 MiB.
    relay = startService(
      'services/relay/dist/main.js',
      relayProcessEnv(db, ns, 'batch-bytes-relay', { LOG_LEVEL: 'debug', OUTBOX_BATCH_MAX_BYTES: String(1024 * 1024) }),
      { nodeArgs: ['--max-old-space-size=96'] },
    );
    const messages = await waitFor(
      'every event in the stream',
      async () => {
        if (relay?.child.exitCode !== null) throw new Error(`the relay exited with ${relay?.child.exitCode}: ${relay?.stderr().slice(-2000)}`);
        const stored = await readStream(ns.nc, ns.stream).catch(() => []);
        return stored.length >= EVENTS ? stored : undefined;
      },
      120_000,
      200,
    );
    expect(messages.map((m) => m.aggregateId)).toEqual(Array.from({ length: EVENTS }, (_, i) => `a-${i + 1}`));
    const batches = relay!.logs.filter((l) => l.msg === 'batch published').map((l) => l.count as number);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(EVENTS);
    expect(Math.max(...batches)).toBeLessThanOrEqual(6);
  });
});
