/**
 * The send window: all sessions of one publisher (all partitions of a relay) together keep at most `sendWindow`
 * messages sent and unacknowledged, against the real server; a session that starts while another keeps the window
 * full gets a slot in turn (first come, first served), so a new term's first message never queues behind the whole
 * backlog of the others. The publisher is the real one; a thin wrapper only counts what is outstanding.
 */
import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { ensureStream } from '@outbox-relay/outbox';
import { JetStreamPublisher, PubAckCollector, SendWindow, type AckedPublisher, type OutboxRecord } from '@outbox-relay/outbox/internal';
import { createTestStream, readStream, type TestStream } from '@outbox-relay/test-support';

let ns: TestStream;
let collector: PubAckCollector;
beforeEach(async () => {
  ns = await createTestStream('window');
  await ensureStream(await jetstreamManager(ns.nc), { name: ns.stream, subjectPrefix: ns.subjectPrefix, duplicateWindowMs: 120_000 });
  collector = new PubAckCollector(ns.nc, { stream: ns.stream, timeoutMs: 10_000 });
});
afterEach(async () => {
  collector.close();
  await ns.drop();
});

let seq = 0;
const records = (partition: number, n: number): OutboxRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    seq: String(++seq),
    id: randomUUID(),
    partition,
    aggregateType: 'Acct',
    aggregateId: `p${partition}-a${i}`, // each its own aggregate: nothing but the window holds a send back
    eventType: 'Step',
    payload: JSON.stringify({ partition, i }),
    headers: {},
    createdAt: new Date(),
  }));

/** The real collector, counting what is sent and not yet settled, and the order in which messages were sent. */
function countingSender() {
  /** `ahead`: per message, how many others were sent and unacknowledged when it was sent. */
  const counts = { outstanding: 0, max: 0, sent: [] as string[], ahead: new Map<string, number>() };
  const sender: AckedPublisher = {
    get highestSeq() {
      return collector.highestSeq;
    },
    async publish(subject, payload, headers) {
      const id = headers.get('Nats-Msg-Id');
      counts.ahead.set(id, counts.outstanding);
      counts.outstanding++;
      counts.max = Math.max(counts.max, counts.outstanding);
      counts.sent.push(id);
      try {
        return await collector.publish(subject, payload, headers);
      } finally {
        counts.outstanding--;
      }
    },
  };
  return { sender, counts };
}

it('keeps at most sendWindow messages unacknowledged over all sessions of a publisher, and stores every one', async () => {
  const { sender, counts } = countingSender();
  const publisher = new JetStreamPublisher(sender, { stream: ns.stream, subjectPrefix: ns.subjectPrefix, sendWindow: 16 });
  const batches = [0, 1, 2].map((p) => records(p, 300));
  const outcomes = await Promise.all(batches.map((batch) => publisher.session().publishBatch(batch, () => true)));
  expect(outcomes.map((o) => o.acked.length)).toEqual([300, 300, 300]);
  expect(counts.max).toBeLessThanOrEqual(16);
  expect(counts.max).toBeGreaterThan(1); // a window, not one at a time
  expect(publisher.inFlight).toBe(0); // every slot came back
  expect(await readStream(ns.nc, ns.stream)).toHaveLength(900);
});

it('lets a session that starts while another keeps the window full send with less than one window ahead of it', async () => {
  const { sender, counts } = countingSender();
  const publisher = new JetStreamPublisher(sender, { stream: ns.stream, subjectPrefix: ns.subjectPrefix, sendWindow: 8 });
  const busy = records(0, 2000);
  const busyDone = publisher.session().publishBatch(busy, () => true);
  // Joins once the busy session keeps messages in flight.
  while (counts.outstanding < 8) await new Promise((resolve) => setImmediate(resolve));
  const joining = records(1, 1);
  await publisher.session().publishBatch(joining, () => true);
  const id = joining[0]!.id;
  // It went out with less than one window in flight ahead of it: without one, the whole busy batch (2000).
  expect(counts.ahead.get(id)).toBeLessThanOrEqual(7);
  expect(counts.sent).toContain(id);
  await busyDone;
});

it('gives the slot back when a session stops before sending', async () => {
  const window = new SendWindow(1);
  expect(window.acquire()).toBeNull();
  let granted = false;
  const waiting = window.acquire()!.then(() => (granted = true));
  expect(window.inFlight).toBe(1);
  window.release();
  await waiting;
  expect(granted).toBe(true);
  window.release();
  expect(window.inFlight).toBe(0);
  expect(() => new SendWindow(0)).toThrow(/positive integer/);
});

it('wakes a session waiting on a full window only once a sixteenth of it is free, and then lets it take those at once', () => {
  const window = new SendWindow(64);
  expect(window.wakeAt).toBe(4);
  for (let i = 0; i < 64; i++) expect(window.acquire()).toBeNull();
  let woken = 0;
  void window.acquire()!.then(() => woken++);
  const settled = () => new Promise((resolve) => setImmediate(resolve));
  return (async () => {
    for (let i = 0; i < 3; i++) window.release();
    await settled();
    expect(woken).toBe(0); // three free: not yet
    window.release();
    await settled();
    expect(woken).toBe(1); // four free: one given to the waiter, and three more it takes without waiting
    expect([window.acquire(), window.acquire(), window.acquire()]).toEqual([null, null, null]);
    expect(window.inFlight).toBe(64);
  })();
});
