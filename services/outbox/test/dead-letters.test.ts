/**
 * Relay-side permanent failures: an event the stream can never accept is moved to the relay's dead letters after
 * OUTBOX_MAX_PUBLISH_ATTEMPTS tries, and the relay goes on with everything else (including later events of the
 * same aggregate, which is the documented ordering cost).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { Outbox, type OutboxRelay } from '@outbox-relay/outbox';
import { permanentPublishError } from '@outbox-relay/outbox/internal';
import { createTestSchema, type TestSchema, createTestStream, readStream, waitFor, type TestStream, makeRelay, recordingObserver, countPendingEvents } from '@outbox-relay/test-support';

let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;
let relay: OutboxRelay;
const MAX_MSG_SIZE = 4096;
const { observer, calls } = recordingObserver();

beforeAll(async () => {
  db = await createTestSchema('dlq');
  ns = await createTestStream('dlq');
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
  // A stream that refuses messages above 4 KiB: the relay finds it and keeps it as it is.
  const jsm = await jetstreamManager(ns.nc);
  await jsm.streams.add({ name: ns.stream, subjects: [`${ns.subjectPrefix}.>`], duplicate_window: nanos(120_000), max_msg_size: MAX_MSG_SIZE });
  relay = makeRelay(db, ns, ns.nc, { maxPublishAttempts: 3 }, observer);
  await relay.start();
});
afterAll(async () => {
  await relay.stop();
  await outbox.close();
  await ns.drop();
  await db.drop();
});

const event = (aggregateId: string, n: number, padding = 0) => ({
  aggregateType: 'Order',
  aggregateId,
  eventType: 'Step',
  payload: { n, padding: 'x'.repeat(padding) },
});

it('moves an event the stream refuses to the dead letters after the configured tries and publishes the rest', async () => {
  const [a1] = await outbox.transaction((tx) => outbox.enqueue(tx, event('A', 1)));
  const [a2] = await outbox.transaction((tx) => outbox.enqueue(tx, event('A', 2, MAX_MSG_SIZE * 2)));
  const [a3] = await outbox.transaction((tx) => outbox.enqueue(tx, event('A', 3)));
  const [b1] = await outbox.transaction((tx) => outbox.enqueue(tx, event('B', 1)));

  const t = `"${db.schema}"`;
  await waitFor('the outbox to drain', async () => (await countPendingEvents(db.pool, db.schema)) === 0 || undefined);

  const { rows: letters } = await db.pool.query(
    `SELECT event_id, seq::text, aggregate_id, event_type, reason, attempts, failed_epoch::int AS epoch, resolved_at, payload
     FROM ${t}.outbox_dead_letters`,
  );
  expect(letters).toHaveLength(1);
  const letter = letters[0];
  expect(letter).toMatchObject({ event_id: a2!.id, seq: a2!.seq, aggregate_id: 'A', event_type: 'Step', attempts: 3, resolved_at: null });
  expect(letter.reason).toMatch(/message size exceeds maximum allowed/);
  expect(letter.epoch).toBe(relay.status().partitions[0]!.epoch);
  expect(relay.status().partitions[0]!.deadLettered).toBe(1);
  // What metrics see: three permanent failures, one dead letter, the other three events published.
  expect(calls.publishFailed).toEqual([0, 0, 0].map((partition) => ({ partition, permanent: true })));
  expect(calls.deadLettered).toEqual([0]);
  expect(calls.published.reduce((n, p) => n + p.count, 0)).toBe(3);
  expect(calls.leadership[0]).toEqual({ partition: 0, epoch: letter.epoch });
  expect(letter.payload.n).toBe(2);
  // Moved, not copied: the outbox no longer holds it, so nothing will try it again.
  const { rowCount } = await db.pool.query(`SELECT 1 FROM ${t}.outbox WHERE id = $1`, [a2!.id]);
  expect(rowCount).toBe(0);

  const stored = await readStream(ns.nc, ns.stream);
  expect(stored.map((m) => m.eventId).sort()).toEqual([a1!.id, a3!.id, b1!.id].sort());
  expect(stored.filter((m) => m.aggregateId === 'A').map((m) => (m.data as { n: number }).n)).toEqual([1, 3]);
});

it('an event that cannot become a NATS message (written by hand) is dead-lettered while the partition goes on (issue 13, case 1b)', async () => {
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  process.on('unhandledRejection', onRejection);
  try {
    const t = `"${db.schema}"`;
    const deadBefore = relay.status().partitions[0]!.deadLettered;
    // Bypasses enqueue's checks, as a row from an older version or a hand-written INSERT would: the NATS client
    // refuses a header value with a line break at publish time, on every attempt.
    const { rows: [poison] } = await db.pool.query(
      `INSERT INTO ${t}.outbox (id, partition, aggregate_type, aggregate_id, event_type, payload, headers)
       VALUES (gen_random_uuid(), 0, 'Order', E'line\nbreak', 'Step', '{"n": 1}', '{}') RETURNING id::text`,
    );
    // Two events carrying the same custom Nats-Msg-Id (also only possible by hand now): the relay's own id wins,
    // so the stream keeps both.
    const { rows: spoofed } = await db.pool.query(
      `INSERT INTO ${t}.outbox (id, partition, aggregate_type, aggregate_id, event_type, payload, headers)
       SELECT gen_random_uuid(), 0, 'Order', 'S', 'Step', jsonb_build_object('n', n), '{"Nats-Msg-Id": "same", "Outbox-Event-Id": "other"}'
       FROM generate_series(1, 2) n RETURNING id::text`,
    );
    const [later] = await outbox.transaction((tx) => outbox.enqueue(tx, event('line-after', 1)));
    await waitFor('the outbox to drain', async () => (await countPendingEvents(db.pool, db.schema)) === 0 || undefined);
    const { rows: letters } = await db.pool.query(`SELECT reason, attempts FROM ${t}.outbox_dead_letters WHERE event_id = $1`, [poison.id]);
    expect(letters).toEqual([{ reason: expect.stringMatching(/cannot be sent as a NATS message.*\\r or \\n/), attempts: 3 }]);
    expect(relay.status().partitions[0]).toMatchObject({ leading: true, deadLettered: deadBefore + 1 });
    const stored = await readStream(ns.nc, ns.stream);
    const ids = stored.map((m) => m.eventId);
    expect(ids).toEqual(expect.arrayContaining([...spoofed.map((r: { id: string }) => r.id), later!.id]));
    expect(ids).not.toContain(poison.id);
    expect(rejections).toEqual([]);
  } finally {
    process.off('unhandledRejection', onRejection);
  }
});

it('treats only errors about the event itself as permanent', () => {
  expect(permanentPublishError({ name: 'JetStreamApiError', code: 10054, message: 'message size exceeds maximum allowed' })).toMatch(/size/);
  expect(permanentPublishError({ name: 'InvalidArgumentError', message: "'payload' max_payload size exceeded" })).toMatch(/max_payload/);
  // A missing stream, a timeout or a wrong stream name concern every event: retried, never dead-lettered.
  expect(permanentPublishError({ name: 'JetStreamNotEnabled', message: 'jetstream is not enabled' })).toBeNull();
  expect(permanentPublishError({ name: 'TimeoutError', message: 'timeout' })).toBeNull();
  expect(permanentPublishError({ name: 'JetStreamApiError', code: 10060, message: 'expected stream does not match' })).toBeNull();
});
