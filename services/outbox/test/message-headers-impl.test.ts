/**
 * The relay's cheaper headers: the same bytes on the wire as the NATS client's own headers for the same calls,
 * the same refusals, and what the server stores reads back the same (a publish through the real server).
 */
import { headers as natsHeaders, Match, type MsgHdrs } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { ensureStream } from '@outbox-relay/outbox';
import { MessageHeaders } from '@outbox-relay/outbox/internal';
import { createTestStream, type TestStream } from '@outbox-relay/test-support';

const CALLS: Array<[string, string]> = [
  ['Nats-Msg-Id', '0b3f1c2e-8a6d-4d51-9a55-1f6a0f0e7c11'],
  ['Outbox-Aggregate-Id', 'café 1'], // UTF-8
  ['Outbox-Seq', '  42 '], // trimmed, as the client trims
  ['ce-source', '/outbox-relay/orders'],
  ['Outbox-Aggregate-Id', 'replaced'], // set again: the last value wins
  ['x-app', 'emoji 🚀'],
];

function both(calls: Array<[string, string]>): [MsgHdrs & { encode(): Uint8Array }, MessageHeaders] {
  const theirs = natsHeaders() as MsgHdrs & { encode(): Uint8Array };
  const ours = new MessageHeaders();
  for (const [name, value] of calls) {
    theirs.set(name, value);
    ours.set(name, value);
  }
  return [theirs, ours];
}

it('encodes exactly as the client does', () => {
  const [theirs, ours] = both(CALLS);
  expect(Buffer.from(ours.encode()).toString('utf8')).toBe(Buffer.from(theirs.encode()).toString('utf8'));
  expect(Buffer.compare(Buffer.from(ours.encode()), Buffer.from(theirs.encode()))).toBe(0);
  expect(ours.get('Outbox-Aggregate-Id')).toBe('replaced');
  expect(ours.get('Outbox-Seq')).toBe('42');
  // Other matching modes go through the client's own code.
  ours.set('outbox-seq', '43', Match.IgnoreCase);
  theirs.set('outbox-seq', '43', Match.IgnoreCase);
  expect(Buffer.from(ours.encode()).toString('utf8')).toBe(Buffer.from(theirs.encode()).toString('utf8'));
});

it('refuses what the client refuses, with its errors', () => {
  for (const [name, value] of [
    ['Bad:Name', 'v'],
    ['Bad Name', 'v'],
    ['Good-Name', 'line\r\nbreak'],
    ['Good-Name', 'line\nbreak'],
  ] as const) {
    const client = (() => {
      try {
        natsHeaders().set(name, value);
      } catch (error) {
        return error as Error;
      }
      return null;
    })();
    expect(client).not.toBeNull();
    expect(() => new MessageHeaders().set(name, value)).toThrow(client!.message);
  }
});

describe('through the server', () => {
  let ns: TestStream;
  beforeEach(async () => {
    ns = await createTestStream('hdrimpl');
    await ensureStream(await jetstreamManager(ns.nc), { name: ns.stream, subjectPrefix: ns.subjectPrefix, duplicateWindowMs: 120_000 });
  });
  afterEach(() => ns.drop());

  it('stores and delivers the headers as set', async () => {
    const [, ours] = both(CALLS);
    await jetstream(ns.nc).publish(`${ns.subjectPrefix}.Acct.Step`, '{}', { headers: ours });
    const stored = await (await jetstreamManager(ns.nc)).streams.getMessage(ns.stream, { seq: 1 });
    if (!stored) throw new Error('the message was not stored');
    for (const [name] of CALLS) expect(stored.header.get(name)).toBe(ours.get(name));
    expect(stored.header.get('x-app')).toBe('emoji 🚀');
  });
});
