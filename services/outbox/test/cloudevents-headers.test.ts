/**
 * OUTBOX_MESSAGE_HEADERS (issue 15): a running relay gives each message exactly the headers the README's tables list
 * for its mode, `outbox` (the default, unchanged), `cloudevents` (CloudEvents 1.0 binary mode of the NATS protocol
 * binding, instead of the Outbox-* headers) or `both`, with the right values: percent-encoded where the binding
 * asks, the original event id on a replay, the row's created_at as ce-time.
 */
import { randomUUID } from 'node:crypto';
import { decodeCloudEventsHeaderValue, encodeCloudEventsHeaderValue, type OutboxRelay, type RelaySettings } from '@outbox-relay/outbox';
import { makeRelay, readStream, relayTestBed, waitFor, type StoredMessage } from '@outbox-relay/test-support';

const bed = relayTestBed('cehdr');

async function startRelay(overrides: Partial<RelaySettings>): Promise<OutboxRelay> {
  const relay = makeRelay(bed.db, bed.ns, bed.ns.nc, overrides);
  bed.relays.push(relay);
  await relay.start();
  return relay;
}

// An aggregate id and header values with what a header cannot carry as it is: non-ASCII, space, '%' and '"'.
const AGGREGATE_ID = 'café 1%"x';
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const TRACESTATE = 'rojo=00f067aa0ba902b7, congo=t61rcWkgMzE';
const CORRELATION_ID = 'req 42/é';

interface Written {
  id: string;
  seq: string;
  partition: number;
  time: string;
}

/** The original event, then a replay of it (a new row and id, header replayOf = the original id), as outboxctl writes it. */
async function writeOriginalAndReplay(): Promise<{ original: Written; replay: Written }> {
  const event = {
    aggregateType: 'Order',
    aggregateId: AGGREGATE_ID,
    eventType: 'OrderCreated',
    payload: { orderId: 'o-1' },
    // 'CE-Type' is the application's own header: kept in mode outbox, never allowed to stand for the relay's ce-type.
    headers: { correlationId: CORRELATION_ID, traceparent: TRACEPARENT, tracestate: TRACESTATE, tenant: 'acme', 'CE-Type': 'spoof' },
  };
  const [original] = await bed.outbox.transaction((tx) => bed.outbox.enqueue(tx, event));
  const [replay] = await bed.outbox.transaction((tx) =>
    bed.outbox.enqueue(tx, { ...event, id: randomUUID(), headers: { ...event.headers, replayOf: original!.id } }),
  );
  const { rows } = await bed.db.pool.query<{ id: string; created_at: Date }>(`SELECT id, created_at FROM "${bed.db.schema}".outbox`);
  const timeOf = (id: string) => rows.find((r) => r.id === id)!.created_at.toISOString();
  return {
    original: { ...original!, time: timeOf(original!.id) },
    replay: { ...replay!, time: timeOf(replay!.id) },
  };
}

async function published(): Promise<[StoredMessage, StoredMessage]> {
  return waitFor('both messages in the stream', async () => {
    const messages = await readStream(bed.ns.nc, bed.ns.stream).catch(() => []);
    return messages.length === 2 ? (messages as [StoredMessage, StoredMessage]) : undefined;
  });
}

/** Headers of every mode: JetStream's and the application's own. */
const common = (row: Written) => ({
  'Nats-Msg-Id': row.id,
  'Nats-Expected-Stream': bed.ns.stream,
  traceparent: TRACEPARENT,
  tracestate: TRACESTATE,
  tenant: 'acme',
});

const outboxHeaders = (row: Written, eventId: string, replay: boolean) => ({
  'Outbox-Event-Id': eventId,
  'Outbox-Event-Type': 'OrderCreated',
  'Outbox-Aggregate-Type': 'Order',
  'Outbox-Aggregate-Id': AGGREGATE_ID,
  'Outbox-Partition': String(row.partition),
  'Outbox-Seq': row.seq,
  'Outbox-Correlation-Id': CORRELATION_ID,
  ...(replay ? { 'Outbox-Replay-Of': eventId } : {}),
});

const cloudEventsHeaders = (row: Written, eventId: string, replay: boolean, source: string) => ({
  'ce-specversion': '1.0',
  'ce-id': eventId,
  'ce-source': source,
  'ce-type': 'Order.OrderCreated',
  'ce-subject': 'caf%C3%A9%201%25%22x',
  'ce-time': row.time,
  'ce-datacontenttype': 'application/json',
  'content-type': 'application/json',
  'ce-traceparent': TRACEPARENT,
  'ce-tracestate': 'rojo=00f067aa0ba902b7,%20congo=t61rcWkgMzE',
  'ce-correlationid': 'req%2042/%C3%A9',
  'ce-outboxpartition': String(row.partition),
  'ce-outboxseq': row.seq,
  ...(replay ? { 'ce-outboxreplayof': eventId } : {}),
});

it('mode outbox (the default): the Outbox-* headers as before, and no CloudEvents header', async () => {
  const relay = await startRelay({});
  expect(relay.settings.messageHeaders).toBe('outbox');
  const { original, replay } = await writeOriginalAndReplay();
  const [first, second] = await published();
  expect(first.headers).toEqual({ ...common(original), 'CE-Type': 'spoof', ...outboxHeaders(original, original.id, false) });
  expect(second.headers).toEqual({ ...common(replay), 'CE-Type': 'spoof', ...outboxHeaders(replay, original.id, true) });
});

it('mode cloudevents: the ce-* headers instead of the Outbox-* ones, the configured source escaped once more', async () => {
  // A source with a %XX escape of its own: it travels as %2541, and a reader's one round of decoding gives it back.
  const source = 'https://example.com/orders?tenant=%41';
  await startRelay({ messageHeaders: 'cloudevents', cloudEventsSource: source });
  const { original, replay } = await writeOriginalAndReplay();
  const [first, second] = await published();
  const sourceHeader = 'https://example.com/orders?tenant=%2541';
  expect(first.headers).toEqual({ ...common(original), ...cloudEventsHeaders(original, original.id, false, sourceHeader) });
  // The replay is the same CloudEvent (same source and id) in a new message (its own Nats-Msg-Id).
  expect(second.headers).toEqual({ ...common(replay), ...cloudEventsHeaders(replay, original.id, true, sourceHeader) });
  expect(decodeCloudEventsHeaderValue(first.headers['ce-source']!)).toBe(source);
  expect(decodeCloudEventsHeaderValue(first.headers['ce-subject']!)).toBe(AGGREGATE_ID);
  expect(decodeCloudEventsHeaderValue(first.headers['ce-correlationid']!)).toBe(CORRELATION_ID);
  expect(new Date(first.headers['ce-time']!).toISOString()).toBe(first.headers['ce-time']);
});

it('mode both: every header of both modes; the default source names the outbox schema', async () => {
  await startRelay({ messageHeaders: 'both' });
  const { original, replay } = await writeOriginalAndReplay();
  const [first, second] = await published();
  const source = `/outbox-relay/${bed.db.schema}`;
  expect(first.headers).toEqual({ ...common(original), ...outboxHeaders(original, original.id, false), ...cloudEventsHeaders(original, original.id, false, source) });
  expect(second.headers).toEqual({ ...common(replay), ...outboxHeaders(replay, original.id, true), ...cloudEventsHeaders(replay, original.id, true, source) });
});

describe('header values as the NATS binding encodes them (3.1.3.2)', () => {
  it('escapes what is not printable ASCII, and space, " and %, as upper-case UTF-8 %XX; leaves the rest', () => {
    expect(encodeCloudEventsHeaderValue('Euro € 😀')).toBe('Euro%20%E2%82%AC%20%F0%9F%98%80');
    expect(encodeCloudEventsHeaderValue('say "100%"')).toBe('say%20%22100%25%22');
    expect(encodeCloudEventsHeaderValue("/a/b?c=d&e=f#g:h@i!$'()*+,;=~_-.")).toBe("/a/b?c=d&e=f#g:h@i!$'()*+,;=~_-.");
  });

  it('decodes one round, lower-case escapes and quoted values too, and rejects escapes that are not UTF-8', () => {
    expect(decodeCloudEventsHeaderValue('Euro%20%e2%82%ac%20%F0%9F%98%80')).toBe('Euro € 😀');
    expect(decodeCloudEventsHeaderValue('%2541')).toBe('%41');
    expect(decodeCloudEventsHeaderValue('"quoted \\"value\\""')).toBe('quoted "value"');
    expect(decodeCloudEventsHeaderValue('a+b')).toBe('a+b');
    expect(decodeCloudEventsHeaderValue('%C0%A0')).toBeUndefined(); // an overlong encoding of space
    expect(decodeCloudEventsHeaderValue('%E2%82')).toBeUndefined(); // a cut sequence
  });
});
