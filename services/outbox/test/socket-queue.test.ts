/**
 * Bytes a sender wrote into its socket while it held the right to send, but which the kernel did not take (the
 * reader on the other side was slow), stay queued in the process. If the sender's lease ends before they leave
 * (the network stays stuck, or the process is frozen and woken after a successor took over), they must never
 * reach the stream: the successor re-published those events, and a copy arriving after the duplicate window is
 * stored twice, behind the aggregate's later events. That is the duplicate the fault-injection run of seed 62
 * found (RELIABILITY.md). The relay's publisher resets the connection instead of letting them out.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { headers, nanos, type NatsConnection } from '@nats-io/nats-core';
import { performance } from 'node:perf_hooks';
import { connectNats } from '../src/publish/nats';
import { ConnectionInterruptedError, PubAckCollector, natsSocket, type PubAck } from '../src/publish/pub-acks';
import { JetStreamPublisher } from '../src/publish/publisher';
import type { OutboxRecord } from '../src/outbox-record';
import { randomUUID } from 'node:crypto';
import { hearFromParent, inTestRunner, startScenario, tellParent, TEST_NATS_URL, createTestStream, readStream, type TestStream, TcpProxy } from '@outbox-relay/test-support';

const PAYLOAD = JSON.stringify({ pad: 'x'.repeat(2000) });
/** Ids unique per subject: the stream drops a repeated id as a duplicate. */
const idOf = (subject: string, i: number) => `${subject.slice(subject.lastIndexOf('.') + 1)}-${String(i).padStart(6, '0')}`;

interface Filled {
  published: number;
  /** Of the test's messages, how many the kernel took whole before the deadline was set. */
  takenWhole: number;
  queuedBytes: number;
}

/** Messages published after the first one that stayed queued: the queue then holds whole messages, not a part of one. */
const MORE_QUEUED = 100;

/**
 * Publishes messages through a connection whose reader stopped reading until some of them stay queued in the
 * process (the kernel's buffers are full); returns how many the kernel took whole, and their outcomes.
 */
async function fillSocket(nc: NatsConnection, acks: PubAckCollector, subject: string, mayStillSend: () => boolean): Promise<{ filled: Filled; outcomes: Promise<unknown>[] }> {
  const socket = natsSocket(nc);
  if (!socket) throw new Error('no socket: the NATS client internals changed');
  const before = socket.bytesWritten;
  /** Bytes handed to the socket up to the end of each message (each is written on its own). */
  const ends: number[] = [];
  const outcomes: Promise<unknown>[] = [];
  let more = MORE_QUEUED;
  while (socket.writableLength === 0 || more-- > 0) {
    if (outcomes.length > 100_000) throw new Error('the socket never queued anything: is the proxy holding the bytes?');
    const h = headers();
    h.set('Nats-Msg-Id', idOf(subject, outcomes.length));
    outcomes.push(acks.publish(subject, PAYLOAD, h, mayStillSend).catch((error: unknown) => error));
    // The client writes its buffer to the socket in a microtask, which runs before this one.
    await Promise.resolve();
    ends.push(socket.bytesWritten - before);
  }
  const taken = socket.bytesWritten - socket.writableLength - before;
  return { filled: { published: outcomes.length, takenWhole: ends.filter((end) => end <= taken).length, queuedBytes: socket.writableLength }, outcomes };
}

/** Publishes one message (whatever the connection went through) and returns its ack: a barrier behind everything sent before. */
async function publishMarker(acks: PubAckCollector, subject: string): Promise<PubAck> {
  for (;;) {
    const reconnected = new Promise<void>((resolve) => {
      const stop = acks.onReconnect(() => {
        stop();
        resolve();
      });
    });
    const h = headers();
    h.set('Nats-Msg-Id', `${subject}-marker`);
    try {
      return await acks.publish(subject, '{}', h, () => true);
    } catch (error) {
      if (!(error instanceof ConnectionInterruptedError)) throw error;
      await reconnected;
    }
  }
}

interface Outcomes {
  acked: number;
  stale: number;
  other: string[];
}

async function tally(outcomes: Promise<unknown>[]): Promise<Outcomes> {
  const settled = await Promise.all(outcomes);
  const other = settled.filter((o) => o instanceof Error && o.name !== 'StaleWriteError').map((o) => `${(o as Error).name}: ${(o as Error).message}`);
  return { acked: settled.filter((o) => !(o instanceof Error)).length, stale: settled.filter((o) => o instanceof Error && o.name === 'StaleWriteError').length, other: [...new Set(other)] };
}

/** Runs in a child process, which the test freezes with SIGSTOP while bytes are queued in its socket. */
export async function frozenWithQueuedBytes(input: { natsUrl: string; stream: string; subject: string; deadlineMs: number }): Promise<Outcomes & { filled: Filled; markerSeq: number }> {
  const nc = await connectNats({ url: input.natsUrl, name: 'socket-queue-frozen' });
  const acks = new PubAckCollector(nc, { stream: input.stream, timeoutMs: 120_000 });
  try {
    await nc.flush();
    tellParent('connected');
    await hearFromParent('holding');
    let deadline = Infinity;
    const { filled, outcomes } = await fillSocket(nc, acks, input.subject, () => performance.now() < deadline);
    deadline = performance.now() + input.deadlineMs;
    tellParent('filled', filled);
    const result = await tally(outcomes);
    const marker = await publishMarker(acks, input.subject);
    return { ...result, filled, markerSeq: marker.seq };
  } finally {
    acks.close();
    await nc.close();
  }
}

inTestRunner(() => {
  let ns: TestStream;
  let proxy: TcpProxy;

  beforeAll(async () => {
    ns = await createTestStream('sockq');
    const jsm = await jetstreamManager(ns.nc);
    // A duplicate window far longer than the test: a copy that gets through would be dropped as a duplicate of
    // nothing (each id is published once), so what the stream holds is exactly what reached it.
    await jsm.streams.add({ name: ns.stream, subjects: [`${ns.subjectPrefix}.>`], duplicate_window: nanos(600_000) });
    proxy = await TcpProxy.start(Number(new URL(TEST_NATS_URL).port || 4222));
  });
  afterAll(async () => {
    await proxy.close();
    await ns.drop();
  });

  /** The test's messages the stream stored: always a prefix of what was published, never more than the kernel took whole. */
  async function storedIds(subject: string): Promise<string[]> {
    return (await readStream(ns.nc, ns.stream)).filter((m) => m.subject === subject && m.eventId !== `${subject}-marker`).map((m) => m.eventId);
  }

  it('never lets bytes queued in the socket out after their sender lost the right to send while the network was stuck', async () => {
    const subject = `${ns.subjectPrefix}.stuck`;
    const nc = await connectNats({ url: proxy.url, name: 'socket-queue-stuck' });
    // A publish timeout longer than the test: without the fence the queued messages would wait for the network.
    const acks = new PubAckCollector(nc, { stream: ns.stream, timeoutMs: 120_000 });
    try {
      await nc.flush();
      proxy.holdClientBytes();
      let deadline = Infinity;
      const { filled, outcomes } = await fillSocket(nc, acks, subject, () => performance.now() < deadline);
      expect(filled.queuedBytes).toBeGreaterThan(0);
      deadline = performance.now() + 200;
      // Every message the kernel had not taken fails as a stale write once the deadline passes, the network
      // still stuck; the connection is reset, so nothing of it is sent when the network is back.
      const settled = tally(outcomes);
      const result = await Promise.race([settled, new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), 30_000).unref())]);
      proxy.releaseClientBytes();
      expect(result).not.toBe('pending');
      const { acked, stale, other } = await settled;
      expect(other).toEqual([]);
      expect(stale).toBeGreaterThanOrEqual(filled.published - filled.takenWhole);
      await publishMarker(acks, subject);
      const stored = await storedIds(subject);
      expect(stored.length).toBeLessThanOrEqual(filled.takenWhole);
      expect(stored).toEqual(Array.from({ length: stored.length }, (_, i) => idOf(subject, i)));
      expect(acked).toBeLessThanOrEqual(stored.length);
    } finally {
      proxy.releaseClientBytes();
      acks.close();
      await nc.close();
    }
  });

  it('never lets bytes queued in the socket out when the process wakes from a freeze that outlasted its deadline', async () => {
    const subject = `${ns.subjectPrefix}.frozen`;
    const deadlineMs = 2000;
    const running = startScenario<unknown, Outcomes & { filled: Filled; markerSeq: number }>(
      __filename,
      'frozenWithQueuedBytes',
      { natsUrl: proxy.url, stream: ns.stream, subject, deadlineMs },
      { timeoutMs: 120_000 },
    );
    try {
      await running.heard('connected');
      proxy.holdClientBytes();
      running.tell('holding');
      const filled = await running.heard<Filled>('filled');
      // Frozen with bytes queued; meanwhile the network drains what the kernel took, and the deadline passes.
      const frozenAt = performance.now();
      running.child.kill('SIGSTOP');
      proxy.releaseClientBytes();
      await new Promise((resolve) => setTimeout(resolve, deadlineMs + 500 - (performance.now() - frozenAt)));
      running.child.kill('SIGCONT');
      const run = await running.ended;
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const result = run.result!;
      expect(filled.queuedBytes).toBeGreaterThan(0);
      expect(result.other).toEqual([]);
      expect(result.stale).toBeGreaterThanOrEqual(filled.published - filled.takenWhole);
      const stored = await storedIds(subject);
      expect(stored.length).toBeLessThanOrEqual(filled.takenWhole);
      expect(stored).toEqual(Array.from({ length: stored.length }, (_, i) => idOf(subject, i)));
    } finally {
      proxy.releaseClientBytes();
      running.child.kill('SIGCONT');
      if (running.child.exitCode === null) running.child.kill('SIGKILL');
      await running.ended;
    }
  });
  it("the relay's publisher hands its term's lease to the fence: a session's bytes queued past the deadline never reach the stream", async () => {
    const subject = `${ns.subjectPrefix}.Session.Queued`;
    const nc = await connectNats({ url: proxy.url, name: 'socket-queue-session' });
    const acks = new PubAckCollector(nc, { stream: ns.stream, timeoutMs: 120_000 });
    const publisher = new JetStreamPublisher(acks, { stream: ns.stream, subjectPrefix: ns.subjectPrefix, sendWindow: 100_000 });
    // One event per aggregate, so the session sends them all without waiting for an ack; enough to fill the socket.
    const records: OutboxRecord[] = Array.from({ length: 8000 }, (_, i) => ({
      seq: String(i + 1),
      id: randomUUID(),
      partition: 0,
      aggregateType: 'Session',
      aggregateId: `a-${i}`,
      eventType: 'Queued',
      payload: PAYLOAD,
      headers: {},
      createdAt: new Date(),
    }));
    try {
      await nc.flush();
      proxy.holdClientBytes();
      let deadline = Infinity;
      const outcome = publisher.session().publishBatch(records, () => performance.now() < deadline);
      const socket = natsSocket(nc)!;
      // The whole batch is handed to the client at once (no ack to wait for); what the kernel did not take stays queued.
      for (let i = 0; i < 100 && socket.writableLength === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(socket.writableLength).toBeGreaterThan(0);
      const queuedFrom = socket.bytesWritten - socket.writableLength;
      deadline = performance.now();
      // The fence resets the connection within its check interval; then the network comes back.
      const settled = await Promise.race([outcome, new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), 30_000).unref())]);
      proxy.releaseClientBytes();
      expect(settled).not.toBe('pending');
      await publishMarker(acks, subject);
      const stored = (await readStream(ns.nc, ns.stream)).filter((m) => m.subject === subject).length;
      // Without the lease in the session's sends every message would get through once the network is back.
      expect(stored).toBeLessThan(records.length);
      expect(queuedFrom).toBeGreaterThan(0);
    } finally {
      proxy.releaseClientBytes();
      acks.close();
      await nc.close();
    }
  });
});
