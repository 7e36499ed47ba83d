/**
 * The relay process with OUTBOX_STREAM_MANAGEMENT=verify and a stream that does not fit: exit status 2 and one
 * plain line on stderr, no stack trace and no retry loop; the stream left as it was.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { migrateOutbox } from '@outbox-relay/outbox';
import { createTestSchema, createTestStream, startService, TEST_DATABASE_URL, TEST_NATS_URL, type TestSchema, type TestStream } from '@outbox-relay/test-support';

let db: TestSchema;
let ns: TestStream;
beforeEach(async () => {
  db = await createTestSchema('verifyexit');
  ns = await createTestStream('verifyexit');
  await migrateOutbox({ pool: db.pool, schema: db.schema });
});
afterEach(async () => {
  await ns.drop();
  await db.drop();
});

function startRelay(extra: Record<string, string>) {
  return startService('services/relay/dist/main.js', {
    DATABASE_URL: TEST_DATABASE_URL,
    NATS_URL: TEST_NATS_URL,
    OUTBOX_SCHEMA: db.schema,
    OUTBOX_STREAM: ns.stream,
    OUTBOX_SUBJECT_PREFIX: ns.subjectPrefix,
    OUTBOX_STREAM_MANAGEMENT: 'verify',
    RELAY_HTTP_PORT: '0',
    LOG_LEVEL: 'info',
    ...extra,
  });
}

it('exits 2 with one line naming the setting when the declared window is too short, leaving the stream alone', async () => {
  const jsm = await jetstreamManager(ns.nc);
  await jsm.streams.add({ name: ns.stream, subjects: [`${ns.subjectPrefix}.>`], duplicate_window: nanos(5000) });
  const before = (await jsm.streams.info(ns.stream)).config;
  const relay = startRelay({ OUTBOX_LEASE_MS: '2000' });
  expect(await relay.exited).toBe(2);
  expect(relay.stderr()).toBe(
    `outbox-relay: stream "${ns.stream}" does not fit the relay (duplicate_window): expected a duplicate window of at least 20000 ms (10 x OUTBOX_LEASE_MS), found 5000 ms\n`,
  );
  // Logged once, as data an operator can act on, and never retried.
  const lines = relay.logs.filter((l) => l.problem === 'duplicate-window');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({ setting: 'duplicate_window', stream: ns.stream });
  expect(relay.logs.some((l) => l.msg === 'shut down' && l.exitCode === 2)).toBe(true);
  expect((await jsm.streams.info(ns.stream)).config).toEqual(before);
});

it('exits 2 when the stream is missing, and creates none', async () => {
  const relay = startRelay({});
  expect(await relay.exited).toBe(2);
  expect(relay.stderr()).toMatch(/^outbox-relay: stream "[A-Z0-9_-]+" does not fit the relay \(OUTBOX_STREAM\): .* found no such stream\n$/);
  const jsm = await jetstreamManager(ns.nc);
  expect(await jsm.streams.names().next()).not.toContain(ns.stream);
});

it('exits 2 at start naming a bad stream variable', async () => {
  const relay = startRelay({ OUTBOX_STREAM_STORAGE: 'disk' });
  expect(await relay.exited).toBe(2);
  expect(relay.stderr()).toContain('OUTBOX_STREAM_STORAGE');
});

it('in create mode, exits 2 naming the other stream that already holds the relay\'s subjects', async () => {
  const jsm = await jetstreamManager(ns.nc);
  const other = `${ns.stream}_PLATFORM`;
  await jsm.streams.add({ name: other, subjects: [`${ns.subjectPrefix}.>`] });
  try {
    const relay = startRelay({ OUTBOX_STREAM_MANAGEMENT: 'create' });
    expect(await relay.exited).toBe(2);
    expect(relay.stderr()).toBe(
      `outbox-relay: stream "${ns.stream}" does not fit the relay (OUTBOX_SUBJECT_PREFIX): expected subjects "${ns.subjectPrefix}.>" held by no other stream, found stream "${other}" already captures them\n`,
    );
  } finally {
    await jsm.streams.delete(other);
  }
});
