/**
 * Relays, payment workers and subscribers all ensure the stream when they start, often at the same moment (a
 * deployment, `make demo`): the first creates it, the others find it and widen what they need.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { ensureStream } from '@outbox-relay/outbox';
import { createTestStream, type TestStream } from '@outbox-relay/test-support';

let ns: TestStream;
beforeAll(async () => {
  ns = await createTestStream('ensure');
});
afterAll(() => ns.drop());

it('lets processes that start together with different windows all succeed, leaving the widest window', async () => {
  const jsm = await jetstreamManager(ns.nc);
  const windows = [120_000, 130_000, 140_000, 150_000, 160_000, 170_000];
  const outcomes = await Promise.all(windows.map((duplicateWindowMs) => ensureStream(jsm, { name: ns.stream, subjectPrefix: ns.subjectPrefix, duplicateWindowMs })));
  expect(outcomes.filter((o) => o === 'created')).toHaveLength(1);
  const info = await jsm.streams.info(ns.stream);
  expect(info.config.duplicate_window).toBe(nanos(Math.max(...windows)));
  expect(info.config.subjects).toEqual([`${ns.subjectPrefix}.>`]);
});
