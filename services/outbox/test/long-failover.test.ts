/**
 * A Postgres failover that lasts longer than the stream's duplicate window must not duplicate anything. Events
 * reach the standby while pending; replication is then cut, the relay publishes them and marks them on the primary
 * only; the primary dies, and the standby is promoted only after the duplicate window has passed. On the promoted
 * server the events are pending again and its lease rows are as they were before the relay's term (its acquisition
 * never reached the standby), so neither the window nor the lease row's record of where to look can stop a second
 * publish. The relay must notice that the rows come from an earlier timeline and find the events in the stream.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, defaultRelaySettings, migrateOutbox, Outbox, OutboxRelay } from '@outbox-relay/outbox';
import { createTestStream, type PrivatePostgres, PrivatePostgresPair, quietLogger, readStream, testNeeding, TEST_NATS_URL, type TestStream, waitFor, countPendingEvents } from '@outbox-relay/test-support';

const withPostgresServer = testNeeding('postgres-server');

const SCHEMA = 'outbox';
const EVENTS = 20;
/** The shortest window the relay accepts for its lease (10 x 500 ms). */
const LEASE_MS = 500;
const DUPLICATE_WINDOW_MS = 5000;

let servers: PrivatePostgresPair;
let ns: TestStream;
let nats: NatsConnection;
let relay: OutboxRelay | null = null;

beforeAll(async () => {
  servers = await PrivatePostgresPair.start({ proxied: true });
  ns = await createTestStream('longfail');
  nats = await connectNats({ url: TEST_NATS_URL, name: 'long-failover' });
}, 180_000);
afterAll(async () => {
  await relay?.stop();
  await nats?.close();
  await ns?.drop();
  await servers?.destroy();
});

const pendingOn = (server: PrivatePostgres) => countPendingEvents(server, SCHEMA);

withPostgresServer('a failover longer than the duplicate window: every event stored once', async () => {
  const { primary, standby, replication } = servers;
  const writes = servers.pool();
  await migrateOutbox({ pool: writes, schema: SCHEMA, partitions: 2 });
  const outbox = new Outbox({ pool: writes, schema: SCHEMA });
  for (let n = 1; n <= EVENTS; n++) {
    await outbox.transaction((tx) => outbox.enqueue(tx, { aggregateType: 'Order', aggregateId: `o-${n % 4}`, eventType: 'Placed', payload: { n } }));
  }
  await outbox.close();
  await waitFor('the standby has the pending events', async () => ((await pendingOn(standby)) === EVENTS ? true : undefined), 60_000);

  replication!.cut();
  relay = new OutboxRelay(
    { pool: servers.pool(), nats, logger: quietLogger },
    defaultRelaySettings({ schema: SCHEMA, stream: ns.stream, subjectPrefix: ns.subjectPrefix, leaseMs: LEASE_MS, renewMs: 200, pollMs: 50, duplicateWindowMs: DUPLICATE_WINDOW_MS }),
  );
  await relay.start();
  await waitFor('every event published and marked on the primary', async () => ((await pendingOn(primary)) === 0 ? true : undefined), 60_000);
  expect((await readStream(nats, ns.stream)).length).toBe(EVENTS);

  await primary.kill();
  // The outage itself: nothing to await but time, which is what makes the stream's deduplication useless here.
  await new Promise((r) => setTimeout(r, DUPLICATE_WINDOW_MS + 1000));
  // Read while the standby is still in recovery: once promoted, the running relay may reach it and settle the events
  // before any query of the test does (it did, once in CI).
  expect(await pendingOn(standby)).toBe(EVENTS);
  await standby.promote();

  await waitFor('the promoted server has nothing pending', async () => ((await pendingOn(standby)) === 0 ? true : undefined), 60_000);
  await relay.stop();
  relay = null;
  const stored = await readStream(nats, ns.stream);
  expect(stored.length).toBe(EVENTS);
  expect(new Set(stored.map((m) => m.eventId)).size).toBe(EVENTS);
}, 240_000);
