/**
 * PubAckCollector against the real JetStream server: every outcome a publish can have arrives on the one reply
 * subscription and settles the right publish, with the errors the relay classifies (permanent or retryable).
 */
import { headers } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { performance } from 'node:perf_hooks';
import { connectNats } from '@outbox-relay/outbox';
import { PubAckCollector, permanentPublishError } from '@outbox-relay/outbox/internal';
import { TEST_NATS_URL, createTestStream, readStream, waitFor, type TestStream } from '@outbox-relay/test-support';

let ns: TestStream;
let acks: PubAckCollector;
const MAX_MSG_SIZE = 4096;

beforeAll(async () => {
  ns = await createTestStream('pubacks');
  const jsm = await jetstreamManager(ns.nc);
  await jsm.streams.add({ name: ns.stream, subjects: [`${ns.subjectPrefix}.>`], duplicate_window: nanos(60_000), max_msg_size: MAX_MSG_SIZE });
  acks = new PubAckCollector(ns.nc, { stream: ns.stream, timeoutMs: 2000 });
});
afterAll(async () => {
  acks.close();
  await ns.drop();
});

const withId = (id: string) => {
  const h = headers();
  h.set('Nats-Msg-Id', id);
  return h;
};

it('resolves each publish with its own ack, and reports a re-publish of the same Msg-Id as a duplicate', async () => {
  const ids = Array.from({ length: 2000 }, (_, i) => `ack-${i}`);
  const results = await Promise.all(ids.map((id, i) => acks.publish(`${ns.subjectPrefix}.T.E`, JSON.stringify({ i }), withId(id))));
  expect(results.every((r) => r.duplicate === false)).toBe(true);
  const again = await acks.publish(`${ns.subjectPrefix}.T.E`, JSON.stringify({ i: 0 }), withId(ids[0]!));
  // A duplicate's ack names where the original is stored.
  expect(again).toEqual({ duplicate: true, seq: 1 });
  expect(acks.highestSeq).toBe(ids.length);
  const stored = await readStream(ns.nc, ns.stream);
  expect(stored.map((m) => (m.data as { i: number }).i)).toEqual(ids.map((_, i) => i));
});

it("rejects a message over the stream's max_msg_size with the stream's error, classified as permanent", async () => {
  const error = await acks.publish(`${ns.subjectPrefix}.T.Big`, 'x'.repeat(MAX_MSG_SIZE * 2), withId('too-big')).catch((e: unknown) => e);
  expect(error).toMatchObject({ name: 'JetStreamApiError', code: 10054 });
  expect(permanentPublishError(error)).toMatch(/stream rejected the message/);
});

it("rejects a message over NATS's max_payload before sending it, classified as permanent", async () => {
  const error = await acks.publish(`${ns.subjectPrefix}.T.Huge`, 'x'.repeat(2 * 1024 * 1024), withId('huge')).catch((e: unknown) => e);
  expect(error).toMatchObject({ name: 'InvalidArgumentError' });
  expect(permanentPublishError(error)).toMatch(/max_payload/);
});

it('rejects with NoResponders at once when no stream captures the subject, without mayResend (retryable)', async () => {
  const error = await acks.publish(`${ns.subjectPrefix}-nobody.T.E`, '{}', withId('nobody')).catch((e: unknown) => e);
  expect(error).toMatchObject({ name: 'NoResponders' });
  expect(permanentPublishError(error)).toBeNull();
});

it('with mayResend, a publish that finds no stream listening waits for one (a cluster electing a leader): stored once when it comes', async () => {
  const name = `${ns.stream}_LATE`;
  const prefix = `${ns.subjectPrefix}-late`;
  const waiting = new PubAckCollector(ns.nc, { stream: name, timeoutMs: 30_000 });
  const jsm = await jetstreamManager(ns.nc);
  try {
    let asked = 0;
    const settled = waiting.publish(`${prefix}.T.E`, '{}', withId('late-1'), undefined, () => ++asked > 0);
    // Each copy is asked for: two asks are two copies sent again after "no responders".
    await waitFor('the message sent again', () => asked >= 2);
    await jsm.streams.add({ name, subjects: [`${prefix}.>`] });
    expect(await settled).toEqual({ duplicate: false, seq: 1 });
    expect((await jsm.streams.info(name)).state.messages).toBe(1);
  } finally {
    waiting.close();
    await jsm.streams.delete(name).catch(() => undefined);
  }
});

it('sends no copy while mayResend says no, and fails with NoResponders at the deadline (a stream that stays away is ensured again)', async () => {
  const quick = new PubAckCollector(ns.nc, { stream: ns.stream, timeoutMs: 300 });
  try {
    let asked = 0;
    const error = await quick.publish(`${ns.subjectPrefix}-nobody2.T.E`, '{}', withId('not-again'), undefined, () => (asked++, false)).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'NoResponders' });
    expect(asked).toBeGreaterThan(0);
  } finally {
    quick.close();
  }
});

it('times out when something other than a stream receives the message and nobody acknowledges it', async () => {
  const subject = `${ns.subjectPrefix}-plain.T.E`;
  const listener = ns.nc.subscribe(subject);
  await ns.nc.flush();
  const quick = new PubAckCollector(ns.nc, { stream: ns.stream, timeoutMs: 200 });
  try {
    const started = Date.now();
    const error = await quick.publish(subject, '{}', withId('unanswered')).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(permanentPublishError(error)).toBeNull();
  } finally {
    quick.close();
    listener.unsubscribe();
  }
});

it('rejects the publishes still waiting when closed, and refuses new ones', async () => {
  const subject = `${ns.subjectPrefix}-plain2.T.E`;
  const listener = ns.nc.subscribe(subject);
  await ns.nc.flush();
  const closing = new PubAckCollector(ns.nc, { stream: ns.stream, timeoutMs: 60_000 });
  const waiting = closing.publish(subject, '{}', withId('waiting')).catch((e: unknown) => e);
  closing.close();
  expect(await waiting).toMatchObject({ message: 'publisher closed' });
  await expect(closing.publish(subject, '{}', withId('late'))).rejects.toMatchObject({ message: 'publisher closed' });
  listener.unsubscribe();
});

it('times out on a monotonic clock: a wall clock stepped back an hour does not hold the publish (issue 13, case 6)', async () => {
  const subject = `${ns.subjectPrefix}-stepped.T.E`;
  const listener = ns.nc.subscribe(subject);
  await ns.nc.flush();
  const quick = new PubAckCollector(ns.nc, { stream: ns.stream, timeoutMs: 200 });
  const realNow = Date.now.bind(Date);
  try {
    const settled = quick.publish(subject, '{}', withId('stepped')).catch((e: unknown) => e);
    // NTP steps the wall clock back right after the publish went out.
    const stepped = jest.spyOn(Date, 'now').mockImplementation(() => realNow() - 3_600_000);
    const outcome = await Promise.race([settled, new Promise((resolve) => setTimeout(() => resolve('still waiting after 20 s'), 20_000))]);
    stepped.mockRestore();
    expect(outcome).toMatchObject({ name: 'TimeoutError' });
  } finally {
    jest.restoreAllMocks();
    quick.close();
    listener.unsubscribe();
  }
});

it('never writes a message whose sender lost the right to send while the process was frozen before the write (issue 13, case 5)', async () => {
  const nc = await connectNats({ url: TEST_NATS_URL, name: 'frozen-writer' });
  const frozen = new PubAckCollector(nc, { stream: ns.stream, timeoutMs: 2000 });
  try {
    expect(frozen.checksAtWrite).toBe(true);
    const before = (await readStream(ns.nc, ns.stream)).length;
    // A lease deadline 50 ms away, checked when the message is handed over (it is still ahead then)...
    const deadline = performance.now() + 50;
    const stillLeading = () => performance.now() < deadline;
    expect(stillLeading()).toBe(true);
    const outcome = frozen.publish(`${ns.subjectPrefix}.T.Frozen`, '{}', withId('frozen-1'), stillLeading).catch((e: unknown) => e);
    // ...then the process freezes (here: the event loop is held) before the client writes its buffer.
    while (performance.now() < deadline + 20) {
      // frozen
    }
    expect(await outcome).toMatchObject({ name: 'StaleWriteError' });
    // The connection comes back and works; the stale message was never written.
    await waitFor('the connection to come back', async () => ((await frozen.publish(`${ns.subjectPrefix}.T.Fresh`, '{}', withId('fresh-1'), () => true).catch(() => undefined)) ? true : undefined));
    const stored = await readStream(ns.nc, ns.stream);
    expect(stored.map((m) => m.eventId).slice(before)).toEqual(['fresh-1']);
  } finally {
    frozen.close();
    await nc.close();
  }
});
