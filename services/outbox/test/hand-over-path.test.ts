/**
 * What stands between a leader's last publish and its successor's first, in a graceful hand-over (issue 17: the
 * pause per moved partition should be a few round trips):
 * - the release itself clears the lease row's stream check when every event of the term is marked, and the
 *   successor's acquisition records its own bound in the same statement: it publishes without asking the stream
 *   anything (counted: the JetStream API requests the relays' connection sends);
 * - after a term that ended with events possibly stored but unmarked, the successor still looks;
 * - a member short of its share takes a released partition on the release's NOTIFY, without a balance look first.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Msg } from '@nats-io/nats-core';
import { Outbox, type OutboxRelay } from '@outbox-relay/outbox';
import { PartitionBalancer } from '@outbox-relay/outbox/internal';
import { createTestSchema, createTestStream, makeRelay, readStream, TEST_NATS_URL, waitFor, type TestSchema, type TestStream, countPendingEvents } from '@outbox-relay/test-support';

let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;
/** The relays' own connection: every request it makes has a reply subject under RELAY_INBOX. */
let relayNats: NatsConnection;
let relays: OutboxRelay[] = [];
const RELAY_INBOX = '_RELAYS';
// A long lease: a takeover by expiry would take 8 s; the hand-overs below are releases.
const LEASE = { leaseMs: 8000, renewMs: 2000 };

beforeEach(async () => {
  db = await createTestSchema('handover');
  ns = await createTestStream('handover');
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
  relayNats = await connect({ servers: TEST_NATS_URL, inboxPrefix: RELAY_INBOX });
});
afterEach(async () => {
  await Promise.all(relays.map((r) => r.stop()));
  relays = [];
  await relayNats.close();
  await outbox.close();
  await ns.drop();
  await db.drop();
});

/** Counts the relays' requests for the stream's state (what a look at the stream starts with). */
function countStreamInfoRequests(): { count: () => number; stop: () => void } {
  let count = 0;
  const sub = ns.nc.subscribe(`$JS.API.STREAM.INFO.${ns.stream}`, {
    callback: (_error, msg: Msg) => {
      if (msg.reply?.startsWith(`${RELAY_INBOX}.`)) count++;
    },
  });
  return { count: () => count, stop: () => sub.unsubscribe() };
}

async function enqueueSteps(aggregate: string, from: number, to: number): Promise<void> {
  await outbox.transaction((tx) =>
    outbox.enqueue(tx, Array.from({ length: to - from + 1 }, (_, i) => ({ aggregateType: 'Acct', aggregateId: aggregate, eventType: 'Step', payload: { n: from + i } }))),
  );
}

const pending = () => countPendingEvents(db.pool, db.schema);
const checkStreamFrom = async () =>
  (await db.pool.query(`SELECT check_stream_from::int AS from FROM "${db.schema}".outbox_partitions WHERE partition = 0`)).rows[0].from as number | null;

it('hands over cleanly without the successor asking the stream anything, losing and reordering nothing', async () => {
  relays = [makeRelay(db, ns, relayNats, LEASE), makeRelay(db, ns, relayNats, LEASE)];
  await Promise.all(relays.map((r) => r.start()));
  const first = await waitFor('a leader', () => relays.find((r) => r.status().leading));
  await enqueueSteps('a', 1, 50);
  await waitFor('the first events published', async () => ((await pending()) === 0 ? true : undefined));
  await ns.nc.flush();
  const infos = countStreamInfoRequests();
  await ns.nc.flush(); // the counting subscription is in place on the server before the hand-over starts
  try {
    await first.stepDown();
    const second = relays.find((r) => r !== first)!;
    await waitFor('the other relay to lead', () => second.status().leading || undefined);
    await enqueueSteps('a', 51, 100);
    await waitFor('the successor to publish', async () => ((await pending()) === 0 ? true : undefined));
    expect(infos.count()).toBe(0);
    // The successor's marks keep the row's stream check current: a crash now would be looked at from just past them.
    expect(await checkStreamFrom()).toBe(101);
  } finally {
    infos.stop();
  }
  const steps = (await readStream(ns.nc, ns.stream)).map((m) => (m.data as { n: number }).n);
  expect(steps).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
});

it('looks in the stream when the last term may have left events stored but unmarked', async () => {
  const first = makeRelay(db, ns, relayNats, LEASE);
  relays = [first];
  await first.start();
  await waitFor('a leader', () => first.status().leading || undefined);
  await enqueueSteps('b', 1, 10);
  await waitFor('the events published', async () => ((await pending()) === 0 ? true : undefined));
  await first.stop();
  relays = [];
  // As a term that died between an acknowledgement and its mark leaves it: where its unmarked messages may be.
  await db.pool.query(`UPDATE "${db.schema}".outbox_partitions SET check_stream_from = 1 WHERE partition = 0`);
  const infos = countStreamInfoRequests();
  await ns.nc.flush();
  try {
    const second = makeRelay(db, ns, relayNats, LEASE);
    relays = [second];
    await second.start();
    await waitFor('the look at the stream to settle', async () => ((await checkStreamFrom()) === 11 ? true : undefined));
    expect(infos.count()).toBeGreaterThanOrEqual(1);
  } finally {
    infos.stop();
  }
  expect(await readStream(ns.nc, ns.stream)).toHaveLength(10);
});

it('claims a released partition at once only while short of its share and not yielding', async () => {
  const schema = db.schema;
  // Another live member holds both partitions of a two-partition schema.
  await db.pool.query(`UPDATE "${schema}".outbox_settings SET partitions = 2`);
  await db.pool.query(`INSERT INTO "${schema}".outbox_partitions (partition) VALUES (1) ON CONFLICT DO NOTHING`);
  await db.pool.query(`UPDATE "${schema}".outbox_partitions SET holder = 'other', expires_at = now() + interval '1 hour'`);
  await db.pool.query(`INSERT INTO "${schema}".outbox_members (instance_id, expires_at) VALUES ('other', now() + interval '1 hour')`);
  const balancer = new PartitionBalancer({ pool: db.pool, schema, instanceId: 'me', partitions: 2, leaseMs: 3_600_000, intervalMs: 3_600_000, onDecision: () => undefined });
  await balancer.start();
  try {
    expect(balancer.snapshot?.target).toBe(1);
    expect(balancer.wants(0)).toBe(false); // held by the other member at the look
    expect(balancer.claimReleased(0, 0)).toBe(true);
    expect(balancer.wants(0)).toBe(true);
    expect(balancer.claimReleased(1, 1)).toBe(false); // already at its share
    expect(balancer.claimReleased(7, 0)).toBe(false); // no such partition
    await balancer.yieldFor(3_600_000);
    balancer.tickNow();
    await waitFor('the look that sees the yield', () => (balancer.snapshot?.members.find((m) => m.instanceId === 'me')?.yielding ? true : undefined));
    expect(balancer.claimReleased(1, 0)).toBe(false);
  } finally {
    await balancer.stop();
  }
});
