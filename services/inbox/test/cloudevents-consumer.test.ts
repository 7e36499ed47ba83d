/**
 * An inbox consumer reads events published with CloudEvents headers only (OUTBOX_MESSAGE_HEADERS=cloudevents, issue
 * 15) as it reads the Outbox-* ones: event id, type, aggregate, partition, seq, correlation and trace context from
 * the ce-* headers, and exactly-once processing keyed on the ORIGINAL event id, so a replay is a duplicate, also
 * when the header mode changed between the original and its replay. A real relay publishes; real NATS and Postgres.
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { Inbox, startInboxConsumer, type InboxConsumer, type InboxEvent } from '@outbox-relay/inbox';
import type { MessageHeaderMode, OutboxEventInput } from '@outbox-relay/outbox';
import { makeRelay, quietLogger, readStream, relayTestBed, waitFor } from '@outbox-relay/test-support';
import { createInboxTestDb, type InboxTestDb } from './support/inbox-db';
import { consumerSettled, createDurable } from './support/jetstream';

const bed = relayTestBed('ceinbox');
let db: InboxTestDb;
const running: InboxConsumer[] = [];

beforeEach(async () => {
  db = await createInboxTestDb('ceinbox');
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop()));
  await db.drop();
});

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const original: OutboxEventInput = {
  aggregateType: 'Order',
  aggregateId: 'o 1/é', // escaped in ce-subject: the handler gets it decoded
  eventType: 'OrderCreated',
  payload: { orderId: 'o-1' },
  headers: { correlationId: 'req 42', traceparent: TRACEPARENT },
};

/** A consumer whose handler records each event it runs for and writes one effect row per run. */
async function consume(): Promise<{ consumer: InboxConsumer; seen: InboxEvent[]; settled: () => Promise<void> }> {
  const durable = await createDurable(bed.ns.nc, bed.ns.stream, bed.ns.subjectPrefix, 'ce-consumer');
  const inbox = new Inbox({ pool: db.pool, schema: db.schema, consumer: 'ce-consumer' });
  const seen: InboxEvent[] = [];
  const handler = async (tx: PoolClient, event: InboxEvent) => {
    seen.push(event);
    await tx.query(`INSERT INTO "${db.schema}".effects (event_id, note) VALUES ($1, $2)`, [event.eventId, event.eventType]);
  };
  const consumer = await startInboxConsumer({ inbox, consumer: durable, handler, logger: quietLogger });
  running.push(consumer);
  const settled = () => waitFor('every message settled', () => consumerSettled(bed.ns.nc, bed.ns.stream, 'ce-consumer') || undefined).then(() => undefined);
  return { consumer, seen, settled };
}

/** Writes an event through the outbox and starts (or restarts) the relay in `mode` until the stream holds `total`. */
async function publishWith(mode: MessageHeaderMode, event: OutboxEventInput, total: number): Promise<string> {
  const relay = makeRelay(bed.db, bed.ns, bed.ns.nc, { messageHeaders: mode });
  bed.relays.push(relay);
  await relay.start();
  const [row] = await bed.outbox.transaction((tx) => bed.outbox.enqueue(tx, event));
  await waitFor(`${total} messages in the stream`, async () => ((await readStream(bed.ns.nc, bed.ns.stream).catch(() => [])).length >= total) || undefined);
  await relay.stop();
  return row!.id;
}

/** The replay outboxctl writes: a new row and id, header replayOf = the original id. */
const replayOf = (id: string): OutboxEventInput => ({ ...original, id: randomUUID(), headers: { ...original.headers, replayOf: id } });

it('reads the event from the ce-* headers alone and processes it once; its replay is a duplicate', async () => {
  const { consumer, seen, settled } = await consume();
  const id = await publishWith('cloudevents', original, 1);
  await publishWith('cloudevents', replayOf(id), 2);
  await settled();
  const messages = await readStream(bed.ns.nc, bed.ns.stream);
  expect(messages.flatMap((m) => Object.keys(m.headers)).filter((name) => name.startsWith('Outbox-'))).toEqual([]);

  expect(consumer.stats()).toMatchObject({ processed: 1, duplicates: 1, failed: 0, deadLettered: 0 });
  expect(await db.effects()).toEqual([{ event_id: id, note: 'OrderCreated' }]);
  expect(seen).toHaveLength(1);
  expect(seen[0]).toMatchObject({
    eventId: id,
    eventType: 'OrderCreated',
    aggregateType: 'Order',
    aggregateId: 'o 1/é',
    partition: 0,
    seq: Number(messages[0]!.headers['ce-outboxseq']),
    correlationId: 'req 42',
    traceparent: TRACEPARENT,
    replayOf: undefined,
    payload: { orderId: 'o-1' },
  });
});

it.each([
  ['outbox', 'cloudevents'],
  ['cloudevents', 'outbox'],
] as const)('an original published with %s headers and its replay with %s headers: processed once', async (before, after) => {
  const { consumer, settled } = await consume();
  const id = await publishWith(before, original, 1);
  await publishWith(after, replayOf(id), 2);
  await settled();
  expect(consumer.stats()).toMatchObject({ processed: 1, duplicates: 1, failed: 0 });
  expect(await db.effects()).toEqual([{ event_id: id, note: 'OrderCreated' }]);
});
