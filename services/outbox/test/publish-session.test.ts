/**
 * PublishSession: batches of one term overlap (batch N+1 goes out while N's acks arrive), yet one aggregate's
 * events never overtake each other, and once a batch stops (lease deadline) or fails, later batches send nothing.
 * The publisher is the real one; a thin wrapper only holds back one chosen ack to freeze a send loop.
 */
import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { ensureStream } from '@outbox-relay/outbox';
import { JetStreamPublisher, PubAckCollector, type AckedPublisher, type OutboxRecord } from '@outbox-relay/outbox/internal';
import { createTestStream, readStream, type TestStream } from '@outbox-relay/test-support';

let ns: TestStream;
beforeEach(async () => {
  ns = await createTestStream('session');
  await ensureStream(await jetstreamManager(ns.nc), { name: ns.stream, subjectPrefix: ns.subjectPrefix, duplicateWindowMs: 120_000 });
});
const collectors: PubAckCollector[] = [];
afterEach(async () => {
  for (const c of collectors.splice(0)) c.close();
  await ns.drop();
});

let seq = 0;
const record = (aggregateId: string, n: number): OutboxRecord => ({
  seq: String(++seq),
  id: randomUUID(),
  partition: 0,
  aggregateType: 'Acct',
  aggregateId,
  eventType: 'Step',
  payload: JSON.stringify({ aggregateId, n }),
  headers: {},
  createdAt: new Date(),
});

/** The real publisher (one reply subscription for all acks), except that the ack of `held` waits for `release()`. */
function holdingClient(held: OutboxRecord) {
  const real = new PubAckCollector(ns.nc, { stream: ns.stream, timeoutMs: 5000 });
  collectors.push(real);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const js: AckedPublisher = {
    get highestSeq() {
      return real.highestSeq;
    },
    async publish(subject, payload, headers) {
      const ack = await real.publish(subject, payload, headers);
      if (headers.get('Nats-Msg-Id') === held.id) await gate;
      return ack;
    },
  };
  return { js, release };
}

const order = async () =>
  (await readStream(ns.nc, ns.stream)).map((m) => {
    const { aggregateId, n } = m.data as { aggregateId: string; n: number };
    return `${aggregateId}${n}`;
  });

it("does not let a later batch's event overtake its aggregate's event still queued in an earlier batch", async () => {
  const b1 = record('B', 1);
  const { js, release } = holdingClient(b1);
  const session = new JetStreamPublisher(js, { stream: ns.stream, subjectPrefix: ns.subjectPrefix }).session();
  // Batch 2's loop stops at B2 (waiting for B1's held ack) before it reaches A1; batch 3 holds A2.
  const first = session.publishBatch([b1], () => true);
  const second = session.publishBatch([record('B', 2), record('A', 1)], () => true);
  const third = session.publishBatch([record('A', 2)], () => true);
  await new Promise((r) => setTimeout(r, 200)); // give a wrong implementation the chance to send A2 early
  release();
  await Promise.all([first, second, third]);
  const stored = await order();
  expect(stored.filter((s) => s.startsWith('A'))).toEqual(['A1', 'A2']);
  expect(stored.filter((s) => s.startsWith('B'))).toEqual(['B1', 'B2']);
});

it('sends nothing more in the session once a batch stopped because it may no longer publish', async () => {
  const b1 = record('B', 1);
  const { js, release } = holdingClient(b1);
  const session = new JetStreamPublisher(js, { stream: ns.stream, subjectPrefix: ns.subjectPrefix }).session();
  let allowed = 1; // the lease deadline passes after the first send
  const mayPublish = () => allowed-- > 0;
  const first = session.publishBatch([b1], mayPublish);
  const second = session.publishBatch([record('B', 2), record('A', 1)], mayPublish);
  // Read while batch 2 was in flight, so it lacks A1: it must not be sent ahead of it.
  const third = session.publishBatch([record('A', 2)], () => true);
  release();
  const [, secondOutcome, thirdOutcome] = await Promise.all([first, second, third]);
  expect(secondOutcome).toMatchObject({ acked: [], interrupted: true });
  expect(thirdOutcome).toMatchObject({ acked: [], interrupted: true });
  expect(session.ended).toBe(true);
  expect(await order()).toEqual(['B1']);
});
