/**
 * JetStream as production runs it (issue 18): a 3-node cluster of nats-server 2.9, an R3 stream that the relay
 * creates itself (`streamLimits.replicas`, OUTBOX_STREAM_REPLICAS=3), the relay connected with the list of all three
 * servers, writers committing a few hundred events per second on many aggregates. Faults: the stream's leader
 * killed (-9) and restarted, the leader killed while a backlog drains, and a rolling restart of every server.
 * Afterwards every committed event is in the stream exactly once, in commit order per aggregate, and none is left
 * unpublished. The publishing stall of each fault is logged, not asserted: it is the cluster's election time on
 * whatever this host is doing, and a figure for BENCHMARKS-style reading (npm run bench:ha measures it properly).
 */
import { connectNats, Outbox, type OutboxRelay, type RelaySettings } from '@outbox-relay/outbox';
import { findStoredEvents } from '@outbox-relay/outbox/internal';
import type { NatsConnection } from '@nats-io/transport-node';
import { createTestSchema, makeRelay, quietLogger, PrivateNatsCluster, readStream, testNeeding, uniqueName, waitFor, type TestSchema, countPendingEvents } from '@outbox-relay/test-support';
import { SteadyWriters } from './support/steady-writers';
import { auditOutboxAgainstStream, NO_PROBLEMS } from './support/outbox-stream-audit';
import { PublishingStalls } from './support/publishing-stalls';
import { RelayLogMessages } from './support/relay-log-messages';

/** Starts and kills private nats-servers. */
const withNatsCluster = testNeeding('nats-server');

const PARTITIONS = 3;
const WRITES = { rate: 300, writers: 8, aggregatesPerWriter: 8 };
/** Generous: a leader election after a kill -9 takes several seconds on nats-server 2.9, more on a loaded host. */
const RECOVERY_MS = 90_000;
/** Each test waits for several faults to be over: a few times RECOVERY_MS at most, so that its own waits say what failed. */
const TEST_TIMEOUT_MS = 300_000;
/** What the relay logs when a publish found no stream listening and it ensures its stream again (relay/relay.ts). */
const STREAM_LOST_MESSAGE = "no stream answers for the relay's subjects; ensuring it again";

let cluster: PrivateNatsCluster;
beforeAll(async () => {
  cluster = await PrivateNatsCluster.start();
}, 120_000);
afterAll(async () => {
  await cluster?.destroy();
});

interface Bed {
  db: TestSchema;
  outbox: Outbox;
  names: { stream: string; subjectPrefix: string };
  nc: NatsConnection;
  stalls: PublishingStalls;
  /** What the test's relays logged. */
  logs: RelayLogMessages;
  relays: OutboxRelay[];
}
let bed: Bed;

beforeEach(async () => {
  const db = await createTestSchema('jscluster', { partitions: PARTITIONS });
  const name = uniqueName('jscluster');
  const nc = await connectNats({ url: cluster.urls, name: 'relay-under-test', logger: quietLogger });
  bed = { db, outbox: new Outbox({ pool: db.pool, schema: db.schema }), names: { stream: name.toUpperCase(), subjectPrefix: name }, nc, stalls: new PublishingStalls(PARTITIONS), logs: new RelayLogMessages(), relays: [] };
});
afterEach(async () => {
  // A test that failed half-way leaves a server down: the next one starts from a whole cluster all the same.
  await cluster.heal(RECOVERY_MS);
  await Promise.all(bed.relays.map((relay) => relay.stop()));
  await bed.outbox.close();
  await bed.nc.close();
  await bed.db.drop();
});

function report(line: string): void {
  console.log(`[jetstream-cluster] ${line}`);
}

/** A relay on all three servers that creates its stream with three replicas. */
async function startRelay(overrides: Partial<RelaySettings> = {}): Promise<OutboxRelay> {
  const relay = makeRelay(bed.db, bed.names, bed.nc, { streamLimits: { replicas: 3 }, ...overrides }, bed.stalls.observer, bed.logs);
  bed.relays.push(relay);
  await relay.start();
  return relay;
}

const pendingCount = () => countPendingEvents(bed.db.pool, bed.db.schema);

/** Waits for the outbox to drain, then holds the whole stream against it. */
async function expectEveryEventOnceInOrder(writersCommitted?: ReadonlyMap<string, number>): Promise<void> {
  await waitFor('every committed event published', async () => (await pendingCount()) === 0, RECOVERY_MS, 100);
  const info = await cluster.waitForStreamCurrent(bed.names.stream);
  expect(info.config.num_replicas).toBe(3);
  const messages = await readStream(bed.nc, bed.names.stream);
  const audit = await auditOutboxAgainstStream(bed.db.pool, bed.db.schema, messages, writersCommitted);
  report(`audit: ${audit.committed} events committed on ${audit.aggregates} aggregates, ${audit.stored} stored`);
  expect(audit.problems).toEqual(NO_PROBLEMS);
  expect(audit.stored).toBe(audit.committed);
}

withNatsCluster('the stream leader killed (-9) under steady writes, through another server and through itself, then restarted: not taken for a deleted stream, every event once, in order', async () => {
  const { stream } = bed.names;
  await startRelay();
  const writers = SteadyWriters.start(bed.outbox, { ...WRITES, prefix: 'kill' });
  try {
    await waitFor('the relay publishing', () => bed.stalls.acknowledged >= 300, RECOVERY_MS);
    for (const path of ['another server', 'the leader itself'] as const) {
      // Where the relay's connection is decides how the fault reaches it: acks that never come (timeouts, no
      // responders during the election) or a lost connection (every ack in flight unknown, a reconnect).
      const relayNode = await waitFor('the relay connected', () => cluster.nodeOf(bed.nc) ?? undefined);
      if (path === 'the leader itself') await cluster.moveStreamLeader(stream, relayNode);
      else if ((await cluster.waitForStreamLeader(stream)) === relayNode) await cluster.stepDownStreamLeader(stream);
      await cluster.waitForStreamCurrent(stream);
      const leader = await cluster.waitForStreamLeader(stream);
      const killedAt = Date.now();
      await cluster.kill(leader);
      const elected = cluster.waitForStreamLeader(stream, leader, RECOVERY_MS).then((node) => ({ node, afterMs: Date.now() - killedAt }));
      const stall = await bed.stalls.waitForResumed(killedAt, `the kill of node ${leader}`, RECOVERY_MS);
      const successor = await elected;
      const restartedAt = Date.now();
      await cluster.restart(leader);
      await cluster.waitForStreamCurrent(stream, RECOVERY_MS);
      const rejoin = await bed.stalls.waitForResumed(Date.now(), `node ${leader} caught up`, RECOVERY_MS);
      report(
        `kill -9 of the stream leader (node ${leader}; relay connected to ${path}): publishing stalled ${stall} ms, node ${successor.node} leads after ${successor.afterMs} ms; ` +
          `restarted and current after ${Date.now() - restartedAt} ms, next event published ${rejoin} ms after that`,
      );
    }
  } finally {
    await writers.stop();
  }
  // Elections last longer than the publish timeout here (2 s): publishes that found no leader until then fail, but
  // are not taken for a deleted stream (ensuring it again waits out request timeouts while the election lasts).
  expect(bed.logs.count(STREAM_LOST_MESSAGE)).toBe(0);
  await expectEveryEventOnceInOrder(writers.committed);
}, TEST_TIMEOUT_MS);

withNatsCluster('stream leader changes the cluster makes itself (step-downs, as a rolling update moves leaders) are not taken for a deleted stream: every event once, in order', async () => {
  const { stream } = bed.names;
  // Longer than any step-down election: a publish that finds no stream listening may wait for the next leader.
  await startRelay({ publishTimeoutMs: 30_000 });
  const writers = SteadyWriters.start(bed.outbox, { ...WRITES, prefix: 'stepdown' });
  try {
    await waitFor('the relay publishing', () => bed.stalls.acknowledged >= 300, RECOVERY_MS);
    for (let change = 0; change < 3; change++) {
      await cluster.waitForStreamCurrent(stream, RECOVERY_MS);
      const steppedDownAt = Date.now();
      const leader = await cluster.stepDownStreamLeader(stream, RECOVERY_MS);
      const stall = await bed.stalls.waitForResumed(steppedDownAt, `the step-down to node ${leader}`, RECOVERY_MS);
      report(`step-down of the stream leader (node ${leader} leads now): publishing stalled ${stall} ms`);
    }
  } finally {
    await writers.stop();
  }
  // For a few hundred milliseconds no server leads the stream, and publishes find nobody listening (503, as for a
  // deleted stream). Taken for a deleted stream, that made the relay ensure its stream again, which waited out
  // request timeouts (5 s) while the election lasted, every partition with it.
  expect(bed.logs.count(STREAM_LOST_MESSAGE)).toBe(0);
  await expectEveryEventOnceInOrder(writers.committed);
}, TEST_TIMEOUT_MS);

/** `events` events written with no relay running, spread round-robin over `aggregates`, 500 per transaction. */
async function writeBacklog(events: number, aggregates: number): Promise<Map<string, number>> {
  const committed = new Map<string, number>();
  for (let first = 0; first < events; first += 500) {
    const batch = Array.from({ length: Math.min(500, events - first) }, (_, k) => {
      const aggregate = `backlog-${(first + k) % aggregates}`;
      const n = (committed.get(aggregate) ?? 0) + 1;
      committed.set(aggregate, n);
      return { aggregateType: 'Account', aggregateId: aggregate, eventType: 'Step', payload: { aggregate, n } };
    });
    await bed.outbox.transaction((tx) => bed.outbox.enqueue(tx, batch));
  }
  return committed;
}

withNatsCluster('the stream leader killed (-9) while the relay drains a backlog through another server: every event once, in order', async () => {
  const { stream } = bed.names;
  const backlog = 20_000;
  // The stream exists before the backlog, R3, as it would for a relay that was down.
  const first = await startRelay();
  await first.stop();
  const committed = await writeBacklog(backlog, 64);
  await cluster.waitForStreamCurrent(stream);
  // Through another server, the relay's messages in flight are lost with the leader (neither answer nor error: they
  // time out, and the relay looks at the stream for them), and those it sends until the election find no stream.
  const relayNode = await waitFor('the relay connected', () => cluster.nodeOf(bed.nc) ?? undefined);
  if ((await cluster.waitForStreamLeader(stream)) === relayNode) await cluster.stepDownStreamLeader(stream);
  await cluster.waitForStreamCurrent(stream);
  const leader = await cluster.waitForStreamLeader(stream);
  await startRelay();
  await waitFor('the drain under way', () => bed.stalls.acknowledged > 0, RECOVERY_MS, 5);
  const killedAt = Date.now();
  await cluster.kill(leader);
  const storedAtKill = bed.stalls.acknowledged;
  const elected = cluster.waitForStreamLeader(stream, leader, RECOVERY_MS).then(() => Date.now() - killedAt);
  await waitFor('the backlog drained', async () => (await pendingCount()) === 0, RECOVERY_MS, 100);
  const drainedAfter = Date.now() - killedAt;
  report(
    `kill -9 of the stream leader (node ${leader}; relay connected to node ${relayNode}) ${storedAtKill} events into a drain of ${backlog}: ` +
      `new leader after ${await elected} ms, longest publishing gap ${bed.stalls.longestGapAfter(killedAt)} ms, drained ${drainedAfter} ms after the kill`,
  );
  // The kill came while the drain ran (else this test would only repeat a drain without faults).
  expect(storedAtKill).toBeLessThan(backlog);
  await cluster.restart(leader);
  await expectEveryEventOnceInOrder(committed);
}, TEST_TIMEOUT_MS);

withNatsCluster('a rolling restart of every server under steady writes (each stopped, restarted, caught up in turn): every event once, in order', async () => {
  const { stream } = bed.names;
  await startRelay();
  const writers = SteadyWriters.start(bed.outbox, { ...WRITES, prefix: 'roll' });
  try {
    await waitFor('the relay publishing', () => bed.stalls.acknowledged >= 300, RECOVERY_MS);
    for (let node = 0; node < cluster.nodes.length; node++) {
      await cluster.waitForStreamCurrent(stream, RECOVERY_MS);
      const wasLeader = (await cluster.waitForStreamLeader(stream)) === node;
      const relayWasOn = cluster.nodeOf(bed.nc) === node;
      const stoppedAt = Date.now();
      await cluster.stop(node);
      const stall = await bed.stalls.waitForResumed(stoppedAt, `the stop of node ${node}`, RECOVERY_MS);
      const restartedAt = Date.now();
      await cluster.restart(node);
      await cluster.waitForStreamCurrent(stream, RECOVERY_MS);
      const current = Date.now() - restartedAt;
      const rejoin = await bed.stalls.waitForResumed(restartedAt, `node ${node} back`, RECOVERY_MS);
      report(
        `rolling restart, node ${node} (${wasLeader ? 'the stream leader' : 'a follower'}${relayWasOn ? ', the relay connected to it' : ''}): ` +
          `publishing stalled ${stall} ms after its stop; restarted and current after ${current} ms, publishing ${rejoin} ms after the restart`,
      );
    }
  } finally {
    await writers.stop();
  }
  await expectEveryEventOnceInOrder(writers.committed);
}, TEST_TIMEOUT_MS);

withNatsCluster('with one of the three servers down, every look at the stream finds what it holds (JetStream may place its reading consumer on the dead server)', async () => {
  const { stream } = bed.names;
  await startRelay();
  await writeBacklog(300, 8);
  await waitFor('every event published', async () => (await pendingCount()) === 0, RECOVERY_MS, 50);
  const { rows } = await bed.db.pool.query<{ id: string }>(`SELECT id::text FROM "${bed.db.schema}".outbox WHERE partition = 0 ORDER BY seq`);
  // A follower: the stream keeps its leader, so every look could succeed at once.
  const leader = await cluster.waitForStreamLeader(stream);
  const down = (leader + 1) % cluster.nodes.length;
  await cluster.kill(down);
  try {
    // It may have been the meta leader: consumers can be created only once there is a new one.
    await cluster.waitForMetaLeader(RECOVERY_MS);
    // JetStream places a one-replica consumer on any of the stream's servers at random, the dead one included until it
    // is declared gone (minutes): on nats-server 2.9 a third of such creations are never answered.
    for (let look = 0; look < 12; look++) {
      const stored = await findStoredEvents(bed.nc, stream, 0, 1, 5000);
      expect(stored.ids).toEqual(rows.map((r) => r.id));
    }
  } finally {
    await cluster.restart(down);
    await cluster.waitForStreamCurrent(stream, RECOVERY_MS);
  }
}, TEST_TIMEOUT_MS);

withNatsCluster('the stream leader the relay publishes through killed (-9), with a publish timeout longer than any election: publishing resumes once the cluster elects a leader, not once a request times out', async () => {
  const { stream } = bed.names;
  // The relay's requests wait as long as its publishes: a look at the stream sent during the election is never
  // answered, and must not hold the partitions for the whole timeout.
  await startRelay({ publishTimeoutMs: 120_000 });
  const writers = SteadyWriters.start(bed.outbox, { ...WRITES, prefix: 'through' });
  try {
    await waitFor('the relay publishing', () => bed.stalls.acknowledged >= 300, RECOVERY_MS);
    const relayNode = await waitFor('the relay connected', () => cluster.nodeOf(bed.nc) ?? undefined);
    await cluster.moveStreamLeader(stream, relayNode);
    await cluster.waitForStreamCurrent(stream, RECOVERY_MS);
    const killedAt = Date.now();
    await cluster.kill(relayNode);
    const elected = cluster.waitForStreamLeader(stream, relayNode, RECOVERY_MS).then(() => Date.now() - killedAt);
    const stall = await bed.stalls.waitForResumed(killedAt, `the kill of node ${relayNode}`, RECOVERY_MS);
    report(`kill -9 of the stream leader the relay publishes through (publish timeout 120 s): new leader after ${await elected} ms, publishing stalled ${stall} ms`);
    await cluster.restart(relayNode);
    await cluster.waitForStreamCurrent(stream, RECOVERY_MS);
  } finally {
    await writers.stop();
  }
  await expectEveryEventOnceInOrder(writers.committed);
}, TEST_TIMEOUT_MS);
