import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ProcessLogger } from '@outbox-relay/runtime';
import { ConfigError } from '@outbox-relay/runtime';
import { loadSubscriberConfig, startSubscriber, type ReceivedEvent, type Subscriber } from '@outbox-relay/subscriber';
import { buildMessageHeaders } from '@outbox-relay/outbox/internal';
import { createTestStream, waitFor, type TestStream, TEST_NATS_URL } from '@outbox-relay/test-support';

/** A pino logger whose JSON lines are collected in memory, so tests can assert on what the subscriber logs. */
function captureLogger(): { logger: ProcessLogger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line));
      callback();
    },
  });
  return { logger: pino({ level: 'info', base: { service: 'subscriber-test' } }, sink), lines };
}

interface Published {
  eventId: string;
  eventType: string;
  aggregateId: string;
  payload: Record<string, unknown>;
}

/** Publishes like the relay does: subject per event type, Nats-Msg-Id = event id, the Outbox-* headers. */
async function publishEvent(js: JetStreamClient, prefix: string, e: Published & { seq: number }): Promise<void> {
  const h = natsHeaders();
  h.set('Outbox-Event-Id', e.eventId);
  h.set('Outbox-Event-Type', e.eventType);
  h.set('Outbox-Aggregate-Type', 'Order');
  h.set('Outbox-Aggregate-Id', e.aggregateId);
  h.set('Outbox-Partition', '0');
  h.set('Outbox-Seq', String(e.seq));
  await js.publish(`${prefix}.Order.${e.eventType}`, JSON.stringify(e.payload), { msgID: e.eventId, headers: h });
}

function makeEvents(n: number): Published[] {
  return Array.from({ length: n }, (_, i) => {
    const orderId = randomUUID();
    const eventType = i % 3 === 2 ? 'OrderShipped' : 'OrderCreated';
    return {
      eventId: randomUUID(),
      eventType,
      aggregateId: orderId,
      payload: { orderId, customerId: randomUUID(), amount: i + 1, currency: 'EUR', createdAt: new Date().toISOString() },
    };
  });
}

let seq = 0;
async function publishAll(js: JetStreamClient, prefix: string, events: Published[]): Promise<void> {
  for (const e of events) await publishEvent(js, prefix, { ...e, seq: ++seq });
}

async function consumerState(nc: NatsConnection, stream: string, name: string) {
  const info = await (await jetstreamManager(nc)).consumers.info(stream, name);
  return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
}

describe('subscriber (real NATS JetStream)', () => {
  let ts: TestStream;
  let js: JetStreamClient;
  const running: Subscriber[] = [];
  const connections: NatsConnection[] = [];

  /** Each subscriber instance gets its own connection, as separate processes would. */
  async function start(subscriberId: string, onEvent?: (e: ReceivedEvent) => void | Promise<void>, logger?: ProcessLogger) {
    const nc = await connect({ servers: TEST_NATS_URL, name: `test-${subscriberId}` });
    connections.push(nc);
    const sub = await startSubscriber({
      nc,
      stream: ts.stream,
      subjectPrefix: ts.subjectPrefix,
      subscriberId,
      logger: logger ?? captureLogger().logger,
      onEvent,
      nakDelayMs: 100,
    });
    running.push(sub);
    return { sub, nc };
  }

  // A fresh stream per test: every durable delivers all, so earlier tests' events would show up otherwise.
  beforeEach(async () => {
    ts = await createTestStream('subscriber');
    js = jetstream(ts.nc);
  });

  afterEach(async () => {
    for (const s of running.splice(0)) await s.stop();
    for (const nc of connections.splice(0)) await nc.close();
    await ts.drop();
  });

  it('creates the stream when it starts before any relay, capturing <prefix>.>', async () => {
    await start(`creator-${randomUUID().slice(0, 8)}`);
    const info = await (await jetstreamManager(ts.nc)).streams.info(ts.stream);
    expect(info.config.subjects).toEqual([`${ts.subjectPrefix}.>`]);
    expect(info.config.duplicate_window).toBe(120_000 * 1_000_000);
  });

  it('reads an event published with CloudEvents headers only (OUTBOX_MESSAGE_HEADERS=cloudevents) as any other', async () => {
    const received: ReceivedEvent[] = [];
    const cap = captureLogger();
    await start(`ce-${randomUUID().slice(0, 8)}`, (e) => void received.push(e), cap.logger);
    const record = {
      seq: '41',
      id: randomUUID(),
      partition: 0,
      aggregateType: 'Order',
      aggregateId: 'order 7',
      eventType: 'OrderCreated',
      payload: JSON.stringify({ orderId: 'order 7' }),
      headers: { correlationId: 'req 1' },
      createdAt: new Date(),
    };
    // The relay's own header builder, in the mode a CloudEvents-only relay uses.
    const h = buildMessageHeaders(record, { mode: 'cloudevents', cloudEventsSource: '/outbox-relay/outbox' });
    expect([...h.keys()].filter((name) => name.startsWith('Outbox-'))).toEqual([]);
    await js.publish(`${ts.subjectPrefix}.Order.OrderCreated`, record.payload, { headers: h });
    await waitFor('the event', () => received.length === 1 || undefined);
    expect(received[0]).toMatchObject({
      eventId: record.id,
      eventType: 'OrderCreated',
      aggregateType: 'Order',
      aggregateId: 'order 7',
      partition: 0,
      seq: 41,
      correlationId: 'req 1',
      payload: { orderId: 'order 7' },
    });
    expect(cap.lines.find((l) => l.msg === 'Received order created event')).toMatchObject({ eventId: record.id, aggregateId: 'order 7', seq: 41 });
  });

  it('fans out: two subscriber ids each receive every event exactly once, in publish order', async () => {
    const a: ReceivedEvent[] = [];
    const b: ReceivedEvent[] = [];
    const capA = captureLogger();
    const idA = `fan-a-${randomUUID().slice(0, 8)}`;
    const idB = `fan-b-${randomUUID().slice(0, 8)}`;
    await start(idA, (e) => void a.push(e), capA.logger);
    await start(idB, (e) => void b.push(e));

    const events = makeEvents(60);
    await publishAll(js, ts.subjectPrefix, events);

    await waitFor('both subscribers to receive 60 events', () => a.length >= 60 && b.length >= 60, 15_000);
    const expected = events.map((e) => e.eventId);
    expect(a.map((e) => e.eventId)).toEqual(expected);
    expect(b.map((e) => e.eventId)).toEqual(expected);
    expect(a.map((e) => e.payload)).toEqual(events.map((e) => e.payload));
    expect(a.every((e) => e.deliveryCount === 1 && !e.redelivered)).toBe(true);

    // Nothing left pending or redelivered on either durable.
    for (const id of [idA, idB]) {
      await waitFor(`${id} to have no unacked messages`, async () => (await consumerState(ts.nc, ts.stream, `sub-${id}`)).ackPending === 0);
      expect(await consumerState(ts.nc, ts.stream, `sub-${id}`)).toEqual({ pending: 0, ackPending: 0, redelivered: 0 });
    }

    // One log line per event: the order-created line carries what an operator greps for.
    const created = capA.lines.filter((l) => l.msg === 'Received order created event');
    const other = capA.lines.filter((l) => l.msg === 'Received event');
    expect(created).toHaveLength(events.filter((e) => e.eventType === 'OrderCreated').length);
    expect(other).toHaveLength(events.filter((e) => e.eventType !== 'OrderCreated').length);
    const first = events[0]!;
    expect(created[0]).toMatchObject({
      orderId: first.payload.orderId,
      eventId: first.eventId,
      aggregateId: first.aggregateId,
      partition: 0,
      redelivered: false,
      subscriberId: idA,
      consumer: `sub-${idA}`,
    });
    expect(typeof created[0]!.streamSeq).toBe('number');
    expect(typeof created[0]!.seq).toBe('number');
    expect(other[0]).toMatchObject({ eventType: 'OrderShipped', eventId: events[2]!.eventId });
  });

  it('resumes after a restart with the same id: no acked event again, events published while down arrive', async () => {
    const id = `restart-${randomUUID().slice(0, 8)}`;
    const firstRun: ReceivedEvent[] = [];
    const before = makeEvents(10);
    const { sub } = await start(id, (e) => void firstRun.push(e));
    await publishAll(js, ts.subjectPrefix, before);
    await waitFor('first run to receive 10 events', () => firstRun.length >= 10);
    await sub.stop();
    expect(sub.state).toBe('stopped');

    const whileDown = makeEvents(10);
    await publishAll(js, ts.subjectPrefix, whileDown);

    const secondRun: ReceivedEvent[] = [];
    await start(id, (e) => void secondRun.push(e));
    const sentinel = makeEvents(1);
    await publishAll(js, ts.subjectPrefix, sentinel);
    await waitFor('second run to reach the sentinel', () => secondRun.some((e) => e.eventId === sentinel[0]!.eventId));

    expect(firstRun.map((e) => e.eventId)).toEqual(before.map((e) => e.eventId));
    expect(secondRun.map((e) => e.eventId)).toEqual([...whileDown, ...sentinel].map((e) => e.eventId));
    expect(secondRun.every((e) => !e.redelivered)).toBe(true);
    await waitFor('no unacked messages', async () => (await consumerState(ts.nc, ts.stream, `sub-${id}`)).ackPending === 0);
    expect(await consumerState(ts.nc, ts.stream, `sub-${id}`)).toEqual({ pending: 0, ackPending: 0, redelivered: 0 });
  });

  it('naks an event whose handler fails and processes it on redelivery', async () => {
    const id = `nak-${randomUUID().slice(0, 8)}`;
    const events = makeEvents(5);
    const failing = events[1]!.eventId;
    let failures = 0;
    const handled: ReceivedEvent[] = [];
    const cap = captureLogger();
    await start(
      id,
      (e) => {
        if (e.eventId === failing && failures < 2) {
          failures++;
          throw new Error('downstream unavailable');
        }
        handled.push(e);
      },
      cap.logger,
    );
    await publishAll(js, ts.subjectPrefix, events);
    await waitFor('all 5 events to be handled', () => handled.length >= 5);

    expect(failures).toBe(2);
    expect(new Set(handled.map((e) => e.eventId))).toEqual(new Set(events.map((e) => e.eventId)));
    expect(handled).toHaveLength(5);
    const retried = handled.find((e) => e.eventId === failing)!;
    expect(retried.redelivered).toBe(true);
    expect(retried.deliveryCount).toBe(3);
    expect(cap.lines.filter((l) => l.msg === 'Event handler failed; message will be redelivered')).toHaveLength(2);
    // The successful delivery is logged once, flagged as a redelivery.
    const logged = cap.lines.filter((l) => l.eventId === failing && l.msg === 'Received order created event');
    expect(logged).toEqual([expect.objectContaining({ redelivered: true })]);
    await waitFor('no unacked messages', async () => (await consumerState(ts.nc, ts.stream, `sub-${id}`)).ackPending === 0);
  });

  it('terminates a malformed payload, logs it, and keeps consuming', async () => {
    const id = `bad-${randomUUID().slice(0, 8)}`;
    const handled: ReceivedEvent[] = [];
    const cap = captureLogger();
    await start(id, (e) => void handled.push(e), cap.logger);
    const [good1, good2] = makeEvents(2) as [Published, Published];
    await publishAll(js, ts.subjectPrefix, [good1]);
    const badId = randomUUID();
    const h = natsHeaders();
    h.set('Outbox-Event-Id', badId);
    h.set('Outbox-Event-Type', 'OrderCreated');
    await js.publish(`${ts.subjectPrefix}.Order.OrderCreated`, '{"orderId": "broken', { msgID: badId, headers: h });
    await js.publish(`${ts.subjectPrefix}.Order.OrderCreated`, new Uint8Array([0xff, 0xfe, 0x7b]), { msgID: randomUUID() });
    await publishAll(js, ts.subjectPrefix, [good2]);

    await waitFor('the event after the malformed ones', () => handled.some((e) => e.eventId === good2.eventId));
    expect(handled.map((e) => e.eventId)).toEqual([good1.eventId, good2.eventId]);
    const errors = cap.lines.filter((l) => l.msg === 'Unparseable event payload; message terminated');
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatchObject({ level: 50, eventId: badId });
    // Terminated, not left to be redelivered.
    await waitFor('no unacked messages', async () => (await consumerState(ts.nc, ts.stream, `sub-${id}`)).ackPending === 0);
    expect((await consumerState(ts.nc, ts.stream, `sub-${id}`)).pending).toBe(0);
  });
});

describe('subscriber configuration', () => {
  it('requires SUBSCRIBER_ID and names it', () => {
    expect(() => loadSubscriberConfig({ NATS_URL: 'nats://127.0.0.1:4222' })).toThrow(ConfigError);
    try {
      loadSubscriberConfig({ SUBSCRIBER_ID: 'bad id!' });
    } catch (error) {
      expect((error as ConfigError).variables).toEqual(['SUBSCRIBER_ID']);
    }
    expect.assertions(2);
  });

  it('defaults the filter to every subject under the prefix', () => {
    const config = loadSubscriberConfig({ SUBSCRIBER_ID: 'a_1-b', OUTBOX_SUBJECT_PREFIX: 'shop.events' });
    expect(config).toMatchObject({ subscriberId: 'a_1-b', filterSubject: 'shop.events.>', stream: 'OUTBOX', httpPort: undefined });
    expect(loadSubscriberConfig({ SUBSCRIBER_ID: 'x', SUBSCRIBER_FILTER: 'outbox.Order.*' }).filterSubject).toBe('outbox.Order.*');
    expect(() => loadSubscriberConfig({ SUBSCRIBER_ID: 'x', SUBSCRIBER_HTTP_PORT: 'eighty' })).toThrow(/SUBSCRIBER_HTTP_PORT/);
  });
});
