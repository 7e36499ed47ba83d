import { connectNats, Outbox, type OutboxRelay } from '@outbox-relay/outbox';
import type { NatsConnection } from '@nats-io/transport-node';
import { createTestSchema, type TestSchema, PrivateNatsServer, readStream, waitFor, makeRelay, uniqueName, testNeeding, countPendingEvents } from '@outbox-relay/test-support';

/** A private nats-server, stopped and started again by the test. */
const withNatsServer = testNeeding('nats-server');

let db: TestSchema;
let server: PrivateNatsServer;
let relayConnection: NatsConnection;
let relay: OutboxRelay;
let outbox: Outbox;
const names = { stream: uniqueName('outage').toUpperCase(), subjectPrefix: uniqueName('outage') };

beforeAll(async () => {
  db = await createTestSchema('outage');
  server = await PrivateNatsServer.start();
  relayConnection = await connectNats({ url: server.url, name: 'relay-under-test' });
  relay = makeRelay(db, names, relayConnection, { publishTimeoutMs: 500, backoffMaxMs: 300 });
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
  await relay.start();
});
afterAll(async () => {
  await relay.stop();
  await outbox.close();
  await relayConnection.close();
  await server.destroy();
  await db.drop();
});

const pendingCount = () => countPendingEvents(db.pool, db.schema);

withNatsServer('holds events while NATS is down and delivers all of them, once and in order, when it is back', async () => {
  const write = async (n: number) => {
    await outbox.transaction((tx) =>
      outbox.enqueue(tx, { aggregateType: 'Order', aggregateId: `o-${n % 3}`, eventType: 'Step', payload: { n } }),
    );
  };
  for (let n = 0; n < 5; n++) await write(n);
  await waitFor('first events published', async () => ((await pendingCount()) === 0 ? true : undefined));

  await server.stop();
  for (let n = 5; n < 35; n++) await write(n);
  // While NATS is away nothing is marked published, nothing is lost: the outbox holds all 30.
  expect(await pendingCount()).toBe(30);

  await server.start();
  await waitFor('backlog published after NATS returned', async () => ((await pendingCount()) === 0 ? true : undefined), 30_000);
  const checker = await connectNats({ url: server.url, name: 'checker' });
  try {
    const messages = await readStream(checker, names.stream);
    const ns = messages.map((m) => (m.data as { n: number }).n);
    expect([...ns].sort((a, b) => a - b)).toEqual(Array.from({ length: 35 }, (_, i) => i));
    for (const aggregate of ['o-0', 'o-1', 'o-2']) {
      const steps = messages.filter((m) => m.aggregateId === aggregate).map((m) => (m.data as { n: number }).n);
      expect(steps).toEqual([...steps].sort((a, b) => a - b));
    }
  } finally {
    await checker.close();
  }
  // An outage is transient: retried for as long as it lasts, never a reason to dead-letter anything.
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM "${db.schema}".outbox_dead_letters`);
  expect(rows[0].n).toBe(0);
});
