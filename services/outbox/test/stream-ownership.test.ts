/**
 * Stream ownership against the real server: a stream created with the configured limits; `verify` mode refusing
 * a missing stream, subjects that do not cover the relay's, a window too short for its timings, and never
 * writing the stream; another stream holding the subjects named in create mode.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { ensureStream, ensureStreamReport, StreamConfigError, subjectFilterCovers } from '@outbox-relay/outbox';
import { createTestStream, type TestStream } from '@outbox-relay/test-support';

let ns: TestStream;
let jsm: JetStreamManager;
beforeEach(async () => {
  ns = await createTestStream('ownership');
  jsm = await jetstreamManager(ns.nc);
});
afterEach(() => ns.drop());

const base = () => ({ name: ns.stream, subjectPrefix: ns.subjectPrefix, duplicateWindowMs: 120_000 });

async function refusal(promise: Promise<unknown>): Promise<StreamConfigError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(StreamConfigError);
  return error as StreamConfigError;
}

it('creates the stream with the configured limits', async () => {
  const limits = { storage: 'memory' as const, maxAgeMs: 3_600_000, maxBytes: 1 << 20, maxMsgs: 5000, discard: 'new' as const, replicas: 1 };
  expect(await ensureStream(jsm, { ...base(), limits })).toBe('created');
  const { config } = await jsm.streams.info(ns.stream);
  expect(config).toMatchObject({
    storage: 'memory',
    max_age: nanos(3_600_000),
    max_bytes: 1 << 20,
    max_msgs: 5000,
    discard: 'new',
    num_replicas: 1,
    duplicate_window: nanos(120_000),
    subjects: [`${ns.subjectPrefix}.>`],
  });
});

it('reports limits an existing stream lacks and leaves them as they are', async () => {
  await jsm.streams.add({ name: ns.stream, subjects: [`${ns.subjectPrefix}.>`], duplicate_window: nanos(120_000), max_msgs: 10 });
  const report = await ensureStreamReport(jsm, { ...base(), limits: { maxMsgs: 5000, storage: 'memory' } });
  expect(report).toEqual({
    outcome: 'unchanged',
    differences: [
      { setting: 'OUTBOX_STREAM_STORAGE', configured: 'memory', found: 'file' },
      { setting: 'OUTBOX_STREAM_MAX_MSGS', configured: 5000, found: 10 },
    ],
    lastSeq: 0,
  });
  expect((await jsm.streams.info(ns.stream)).config).toMatchObject({ max_msgs: 10, storage: 'file' });
});

it("reports the stream's last sequence, where every later message is stored after (the relay's first stream-check bound)", async () => {
  expect((await ensureStreamReport(jsm, base())).lastSeq).toBe(0); // created
  for (let i = 0; i < 3; i++) await ns.nc.request(`${ns.subjectPrefix}.Acct.Step`, '{}');
  expect((await ensureStreamReport(jsm, base())).lastSeq).toBe(3);
});

describe('verify mode', () => {
  const verify = () => ({ ...base(), management: 'verify' as const, minDuplicateWindowMs: 20_000 });

  it('refuses a missing stream and creates nothing', async () => {
    const error = await refusal(ensureStream(jsm, verify()));
    expect(error).toMatchObject({ stream: ns.stream, problem: 'missing', setting: 'OUTBOX_STREAM', found: 'no such stream' });
    expect(error.message).toBe(
      `stream "${ns.stream}" does not fit the relay (OUTBOX_STREAM): expected a stream named "${ns.stream}" declared by its owner (OUTBOX_STREAM_MANAGEMENT=verify never creates one), found no such stream`,
    );
    expect(await jsm.streams.names().next()).not.toContain(ns.stream);
  });

  it('refuses a stream whose subjects do not cover the relay\'s', async () => {
    await jsm.streams.add({ name: ns.stream, subjects: [`${ns.subjectPrefix}.Order.>`], duplicate_window: nanos(120_000) });
    const error = await refusal(ensureStream(jsm, verify()));
    expect(error.message).toBe(
      `stream "${ns.stream}" does not fit the relay (OUTBOX_SUBJECT_PREFIX): expected subjects covering "${ns.subjectPrefix}.>", found subjects ["${ns.subjectPrefix}.Order.>"]`,
    );
    expect(error.problem).toBe('subjects');
  });

  it('refuses a duplicate window shorter than 10 x lease', async () => {
    await jsm.streams.add({ name: ns.stream, subjects: [`${ns.subjectPrefix}.>`], duplicate_window: nanos(10_000) });
    const error = await refusal(ensureStream(jsm, verify()));
    expect(error.message).toBe(
      `stream "${ns.stream}" does not fit the relay (duplicate_window): expected a duplicate window of at least 20000 ms (10 x OUTBOX_LEASE_MS), found 10000 ms`,
    );
    expect(error.problem).toBe('duplicate-window');
  });

  it('accepts a fitting stream declared by someone else and never changes it', async () => {
    // Covers the relay's subjects among others, with a window shorter than the relay's own but long
    // enough for its timings: create mode would widen it, verify mode must not.
    await jsm.streams.add({ name: ns.stream, subjects: [`${ns.subjectPrefix}.>`, `${ns.subjectPrefix}x.>`], duplicate_window: nanos(30_000), max_msgs: 7 });
    const before = (await jsm.streams.info(ns.stream)).config;
    const report = await ensureStreamReport(jsm, { ...verify(), limits: { maxMsgs: 100 } });
    expect(report).toEqual({ outcome: 'unchanged', differences: [{ setting: 'OUTBOX_STREAM_MAX_MSGS', configured: 100, found: 7 }], lastSeq: 0 });
    expect((await jsm.streams.info(ns.stream)).config).toEqual(before);
  });
});

it('names the other stream when it already holds the relay\'s subjects (create mode)', async () => {
  const other = `${ns.stream}_OTHER`;
  await jsm.streams.add({ name: other, subjects: [`${ns.subjectPrefix}.>`] });
  try {
    const error = await refusal(ensureStream(jsm, base()));
    expect(error).toMatchObject({ problem: 'overlap', otherStream: other, setting: 'OUTBOX_SUBJECT_PREFIX' });
    expect(error.message).toBe(
      `stream "${ns.stream}" does not fit the relay (OUTBOX_SUBJECT_PREFIX): expected subjects "${ns.subjectPrefix}.>" held by no other stream, found stream "${other}" already captures them`,
    );
  } finally {
    await jsm.streams.delete(other);
  }
});

it('tells which subject filters cover the relay\'s', () => {
  expect(subjectFilterCovers('outbox.>', 'outbox.>')).toBe(true);
  expect(subjectFilterCovers('>', 'outbox.>')).toBe(true);
  expect(subjectFilterCovers('outbox.*.>', 'outbox.>')).toBe(false);
  expect(subjectFilterCovers('*.>', 'outbox.>')).toBe(true);
  expect(subjectFilterCovers('outbox.*', 'outbox.>')).toBe(false);
  expect(subjectFilterCovers('outbox.Order.>', 'outbox.>')).toBe(false);
  expect(subjectFilterCovers('other.>', 'outbox.>')).toBe(false);
});
