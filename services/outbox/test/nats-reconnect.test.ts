/**
 * NATS outages (issue 13, cases 4 and 10), against a private nats-server, alone behind a TCP proxy where acks must
 * be lost on purpose:
 * - publishing resumes when the connection is back, not one publish timeout or one backoff later (the client
 *   silently drops what it buffered while disconnected, so waiting for those acks only wastes time);
 * - acknowledgements lost and NATS away for longer than the duplicate window: the relay finds the stored events in
 *   the stream and marks them instead of storing them twice.
 */
import { performance } from 'node:perf_hooks';
import { connectNats, Outbox, type OutboxRelay } from '@outbox-relay/outbox';
import type { NatsConnection } from '@nats-io/transport-node';
import { createTestSchema, type TestSchema, uniqueName, PrivateNatsServer, readStream, waitFor, makeRelay, TcpProxy, testNeeding } from '@outbox-relay/test-support';

/** A private nats-server, stopped and started again by the tests. */
const withNatsServer = testNeeding('nats-server');

let db: TestSchema;
let server: PrivateNatsServer;
let outbox: Outbox;
const closers: Array<() => Promise<unknown>> = [];

beforeEach(async () => {
  db = await createTestSchema('reconnect');
  server = await PrivateNatsServer.start();
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  await outbox.close();
  await server.destroy();
  await db.drop();
});

const names = () => ({ stream: uniqueName('reconn').toUpperCase(), subjectPrefix: uniqueName('reconn') });

async function connect(url: string): Promise<NatsConnection> {
  const nc = await connectNats({ url, name: 'relay-under-test' });
  closers.push(() => nc.close());
  return nc;
}

function start(nc: NatsConnection, stream: ReturnType<typeof names>, overrides: Parameters<typeof makeRelay>[3]): OutboxRelay {
  const relay = makeRelay(db, stream, nc, overrides);
  closers.push(() => relay.stop());
  return relay;
}

async function write(aggregate: string, n: number): Promise<string> {
  const [row] = await outbox.transaction((tx) => outbox.enqueue(tx, { aggregateType: 'Order', aggregateId: aggregate, eventType: 'Step', payload: { n } }));
  return row!.id;
}

async function publishedAt(id: string): Promise<Date | null> {
  const { rows } = await db.pool.query(`SELECT published_at FROM "${db.schema}".outbox_published WHERE id = $1`, [id]);
  return rows[0]?.published_at ?? null;
}

withNatsServer.each([
  ['in a backoff of 30 s or more', { backoffMinMs: 30_000, backoffMaxMs: 60_000 }],
  ['looking at the stream (short backoffs: requests made while disconnected)', { backoffMinMs: 20, backoffMaxMs: 50 }],
])('resumes publishing when NATS is back, not one request timeout or one backoff later: relay %s', async (_what, backoffs) => {
  const stream = names();
  const nc = await connect(server.url);
  // A relay that would wait a minute for an ack or any other answer: only the reconnect can make it publish within
  // the 20 s allowed below.
  const relay = start(nc, stream, { publishTimeoutMs: 60_000, ...backoffs });
  await relay.start();
  await write('o-1', 1).then((id) => waitFor('the first event published', async () => ((await publishedAt(id)) ? true : undefined)));

  await server.stop();
  const during = await write('o-1', 2);
  // Written while NATS is away: the relay tries, fails at once, and backs off (30 s or more).
  await waitFor('the relay to fail on the written event', () => (relay.status().partitions[0]?.leading ? true : undefined));
  await server.start();
  const back = performance.now();
  await waitFor('the event written during the outage published', async () => ((await publishedAt(during)) ? true : undefined), 20_000, 20);
  const resumedMs = performance.now() - back;
  expect(resumedMs).toBeLessThan(20_000);
  const messages = await readStream(nc, stream.stream);
  expect(messages.map((m) => (m.data as { n: number }).n)).toEqual([1, 2]);
});

withNatsServer('acks lost and NATS away for longer than the duplicate window: every event stored once, in order', async () => {
  const stream = names();
  const proxy = await TcpProxy.start(server.port);
  closers.push(() => proxy.close());
  const nc = await connect(proxy.url);
  const window = 2000;
  const relay = start(nc, stream, { leaseMs: 200, renewMs: 50, duplicateWindowMs: window, publishTimeoutMs: 300, backoffMinMs: 20, backoffMaxMs: 200 });
  await relay.start();
  const first = await write('acct-a', 1);
  await waitFor('the first event published', async () => ((await publishedAt(first)) ? true : undefined));

  const checker = await connect(server.url);
  proxy.dropReplies();
  // One transaction, two aggregates: both go out in one batch, at once; their acks never come back.
  const lost = (
    await outbox.transaction((tx) =>
      outbox.enqueue(tx, [
        { aggregateType: 'Order', aggregateId: 'acct-a', eventType: 'Step', payload: { n: 2 } },
        { aggregateType: 'Order', aggregateId: 'acct-b', eventType: 'Step', payload: { n: 3 } },
      ]),
    )
  ).map((row) => row.id);
  await waitFor('both stored', async () => ((await readStream(checker, stream.stream)).length === 3 ? true : undefined));
  proxy.cut();
  // NATS unreachable for longer than the duplicate window: only a look at the stream can tell what it holds.
  await new Promise((resolve) => setTimeout(resolve, window * 1.5));
  proxy.restore();
  const after = await write('acct-b', 4);
  await waitFor('the outbox drained', async () => ((await publishedAt(after)) ? true : undefined), 20_000);
  const messages = await readStream(checker, stream.stream);
  expect(messages.map((m) => m.eventId)).toEqual([first, ...lost, after]);
});
