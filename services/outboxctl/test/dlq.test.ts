import { randomUUID } from 'node:crypto';
import { Inbox } from '@outbox-relay/inbox';
import { outboxTables } from '@outbox-relay/outbox';
import {
  createCtlDb,
  ctl,
  enqueueEvents,
  inboxEvent,
  makeConsumerDeadLetter,
  makeRelayDeadLetter,
  outboxRows,
  type CtlDb,
} from './support';

let db: CtlDb;
beforeEach(async () => {
  db = await createCtlDb('ctl_dlq');
});
afterEach(async () => {
  await db.drop();
});

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

async function relayDeadLetter(aggregateId = 'order-9', n = 1): Promise<{ id: string; eventId: string }> {
  const [row] = await enqueueEvents(db, [
    { aggregateType: 'Order', aggregateId, eventType: 'OrderCreated', payload: { aggregateId, n }, headers: { correlationId: `corr-${n}`, traceparent: TRACEPARENT } },
  ]);
  return { id: await makeRelayDeadLetter(db, row!.id), eventId: row!.id };
}

async function deadLetterRow(id: string): Promise<{ resolution: string | null; resolved_at: Date | null }> {
  const table = id.startsWith('r') ? outboxTables(db.schema).deadLetters : `"${db.inboxSchema}".inbox_dead_letters`;
  const { rows } = await db.pool.query(`SELECT resolution, resolved_at FROM ${table} WHERE id = $1`, [id.slice(1)]);
  return rows[0];
}

async function inboxState(consumer: string, eventId: string): Promise<{ inbox: boolean; failures: boolean }> {
  const inbox = await db.pool.query(`SELECT 1 FROM "${db.inboxSchema}".inbox WHERE consumer = $1 AND event_id = $2`, [consumer, eventId]);
  const failures = await db.pool.query(`SELECT 1 FROM "${db.inboxSchema}".inbox_failures WHERE consumer = $1 AND event_id = $2`, [consumer, eventId]);
  return { inbox: inbox.rowCount === 1, failures: failures.rowCount === 1 };
}

describe('outboxctl dlq list / show', () => {
  it('lists relay and consumer dead letters with distinct ids, filters them, and shows one in full', async () => {
    const relay = await relayDeadLetter();
    const payments = await makeConsumerDeadLetter(db, 'payments', inboxEvent({ eventId: 'evt-1', headers: { 'Outbox-Correlation-Id': 'corr-x' } }));
    const audit = await makeConsumerDeadLetter(db, 'audit', inboxEvent({ eventId: 'evt-2', aggregateId: 'order-2' }));
    // Both tables start at 1: the prefix keeps them apart.
    expect([relay.id, payments, audit]).toEqual(['r1', 'c1', 'c2']);

    const all = await ctl(['dlq', 'list', '--json'], db.env);
    expect(all.code).toBe(0);
    const list = JSON.parse(all.stdout);
    expect(list).toEqual({
      deadLetters: [
        {
          id: 'r1',
          kind: 'relay',
          consumer: null,
          eventId: relay.eventId,
          eventType: 'OrderCreated',
          aggregateType: 'Order',
          aggregateId: 'order-9',
          reason: 'maximum payload exceeded',
          attempts: 5,
          failedAt: expect.any(String),
          status: 'open',
          resolvedAt: null,
          resolutionNote: null,
        },
        expect.objectContaining({ id: 'c1', kind: 'consumer', consumer: 'payments', eventId: 'evt-1', reason: 'gateway declined', attempts: 4 }),
        expect.objectContaining({ id: 'c2', kind: 'consumer', consumer: 'audit', eventId: 'evt-2', aggregateId: 'order-2' }),
      ],
      truncated: false,
      inboxMigrated: true,
    });

    const ids = async (args: string[]) => JSON.parse((await ctl(['dlq', 'list', '--json', ...args], db.env)).stdout).deadLetters.map((d: { id: string }) => d.id);
    expect(await ids(['--relay'])).toEqual(['r1']);
    expect(await ids(['--consumer', 'audit'])).toEqual(['c2']);
    expect(await ids(['--consumer', 'nobody'])).toEqual([]);
    const limited = JSON.parse((await ctl(['dlq', 'list', '--json', '--limit', '2'], db.env)).stdout);
    expect(limited.deadLetters.map((d: { id: string }) => d.id)).toEqual(['r1', 'c1']);
    expect(limited.truncated).toBe(true);

    const table = await ctl(['dlq', 'list'], db.env);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+SOURCE\s+EVENT\s+TYPE\s+AGGREGATE\s+ATTEMPTS\s+FAILED AT\s+STATUS\s+REASON$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 2))).toEqual([
      ['r1', 'relay'],
      ['c1', 'consumer payments'],
      ['c2', 'consumer audit'],
    ]);
    const sourceAt = lines[0]!.indexOf('SOURCE');
    for (const line of lines.slice(1)) expect(line[sourceAt - 1]).toBe(' ');

    const shown = JSON.parse((await ctl(['dlq', 'show', 'r1', '--json'], db.env)).stdout);
    expect(shown).toMatchObject({
      id: 'r1',
      kind: 'relay',
      eventId: relay.eventId,
      partition: 0,
      seq: '1',
      failedEpoch: 1,
      payloadParsed: true,
      payload: { aggregateId: 'order-9', n: 1 },
      headers: { correlationId: 'corr-1', traceparent: TRACEPARENT },
      subject: null,
    });
    const consumerShown = JSON.parse((await ctl(['dlq', 'show', 'c1', '--json'], db.env)).stdout);
    expect(consumerShown).toMatchObject({
      id: 'c1',
      consumer: 'payments',
      subject: 'outbox.Order.OrderCreated',
      streamSeq: '7',
      payload: { orderId: 'order-1', amount: 42 },
      headers: { 'Outbox-Correlation-Id': 'corr-x' },
      seq: null,
    });
    const human = await ctl(['dlq', 'show', 'c1'], db.env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^source: +consumer payments$/m);
    // The stored text, as the event arrived (and as a replay publishes it), not a re-serialization.
    expect(human.stdout).toMatch(/^payload: +\{"orderId":"order-1","amount":42\}$/m);
  });

  it('hides resolved dead letters unless --all', async () => {
    const a = await relayDeadLetter('order-1');
    const b = await relayDeadLetter('order-2');
    expect((await ctl(['dlq', 'discard', a.id], db.env)).code).toBe(0);
    const open = JSON.parse((await ctl(['dlq', 'list', '--json'], db.env)).stdout).deadLetters;
    expect(open.map((d: { id: string }) => d.id)).toEqual([b.id]);
    const all = JSON.parse((await ctl(['dlq', 'list', '--json', '--all'], db.env)).stdout).deadLetters;
    expect(all.map((d: { id: string; status: string }) => [d.id, d.status])).toEqual([
      [a.id, 'discarded'],
      [b.id, 'open'],
    ]);
    expect((await ctl(['dlq', 'list'], db.env)).stdout).not.toContain(a.eventId);
  });

  it('an unknown id exits 3 naming it, for both kinds', async () => {
    for (const [args, name] of [
      [['dlq', 'show', 'r999'], 'r999'],
      [['dlq', 'show', 'c999'], 'c999'],
      [['dlq', 'replay', 'c42'], 'c42'],
      [['dlq', 'discard', 'r7'], 'r7'],
    ] as const) {
      const { code, stderr } = await ctl([...args], db.env);
      expect({ args, code }).toEqual({ args, code: 3 });
      expect(stderr).toContain(`no dead letter ${name}`);
    }
  });
});

describe('outboxctl dlq discard', () => {
  it('resolves as discarded, prints the reason, refuses twice, and changes nothing when one id is unknown', async () => {
    const relay = await relayDeadLetter();
    const consumer = await makeConsumerDeadLetter(db, 'payments', inboxEvent({ eventId: 'evt-1' }));

    const mixed = await ctl(['dlq', 'discard', consumer, 'r404'], db.env);
    expect(mixed.code).toBe(3);
    expect(mixed.stderr).toContain('no dead letter r404');
    expect(await deadLetterRow(consumer)).toEqual({ resolution: null, resolved_at: null });

    const done = await ctl(['dlq', 'discard', relay.id, consumer, '--reason', 'duplicate of order-8'], db.env);
    expect(done.code).toBe(0);
    expect(done.stdout).toContain(`${relay.id}: discarded event ${relay.eventId} at `);
    expect(done.stdout).toContain('(reason: duplicate of order-8)');
    expect(done.stdout).toContain(`${consumer}: discarded event evt-1`);
    expect(done.stdout).toContain('discarded: 2 of 2 dead letters');
    const first = await deadLetterRow(relay.id);
    expect(first.resolution).toBe('discarded');
    expect((await deadLetterRow(consumer)).resolution).toBe('discarded');
    // The reason is kept with the dead letter and shown by `dlq show`.
    const shown = JSON.parse((await ctl(['dlq', 'show', consumer, '--json'], db.env)).stdout);
    expect(shown.resolutionNote).toBe('duplicate of order-8');
    // Discarding publishes nothing.
    expect(await outboxRows(db)).toEqual([]);

    const again = await ctl(['dlq', 'discard', relay.id], db.env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${relay.id}: already discarded at `);
    expect(again.stderr).toContain('nothing changed');
    expect(await deadLetterRow(relay.id)).toEqual(first);
  });
});

describe('outboxctl dlq replay (relay dead letters)', () => {
  it('puts the event back into the outbox under its original id, resolves it replayed, and refuses a second time', async () => {
    const relay = await relayDeadLetter();
    expect(await outboxRows(db)).toEqual([]);

    const { code, stdout, stderr } = await ctl(['dlq', 'replay', relay.id], db.env);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain(`${relay.id}: replayed: event ${relay.eventId} (Order/order-9 OrderCreated) is back in the outbox under its original id`);
    const rows = await outboxRows(db);
    expect(rows).toEqual([
      {
        seq: expect.any(String),
        id: relay.eventId,
        aggregateId: 'order-9',
        eventType: 'OrderCreated',
        payload: { aggregateId: 'order-9', n: 1 },
        headers: { correlationId: 'corr-1', traceparent: TRACEPARENT },
        published: false,
      },
    ]);
    expect(Number(rows[0]!.seq)).toBeGreaterThan(1); // a new seq: it queues behind what was written meanwhile
    const resolved = await deadLetterRow(relay.id);
    expect(resolved.resolution).toBe('replayed');

    const again = await ctl(['dlq', 'replay', relay.id], db.env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${relay.id}: already replayed at`);
    expect(await outboxRows(db)).toHaveLength(1);
    expect(await deadLetterRow(relay.id)).toEqual(resolved);
  });

  it('changes nothing when the replay fails midway (the original id is already in the outbox again)', async () => {
    const relay = await relayDeadLetter();
    await enqueueEvents(db, [{ id: relay.eventId, aggregateType: 'Order', aggregateId: 'order-9', eventType: 'Rewritten', payload: {} }]);
    const before = await outboxRows(db);

    const { code, stderr } = await ctl(['dlq', 'replay', relay.id], db.env);
    expect(code).toBe(1);
    expect(stderr).toContain(`${relay.id}: event ${relay.eventId} is already in the outbox; nothing changed`);
    expect(await deadLetterRow(relay.id)).toEqual({ resolution: null, resolved_at: null });
    expect(await outboxRows(db)).toEqual(before);
  });
});

describe('outboxctl dlq replay (consumer dead letters)', () => {
  it("deletes that consumer's inbox row and failure counter and enqueues a replay with replayOf, atomically", async () => {
    const eventId = randomUUID();
    const event = inboxEvent({
      eventId,
      headers: {
        'Nats-Msg-Id': eventId,
        'Outbox-Event-Id': eventId,
        'Outbox-Aggregate-Type': 'Order',
        'Outbox-Correlation-Id': 'corr-7',
        traceparent: TRACEPARENT,
        tenant: 'acme',
      },
    });
    const id = await makeConsumerDeadLetter(db, 'payments', event);
    // A stale failure counter (say, from a redelivery racing the dead letter) goes too.
    await new Inbox({ pool: db.pool, schema: db.inboxSchema, consumer: 'payments' }).recordFailure(event, new Error('late'));
    // Another consumer processed the same event: its inbox row must stay (it will skip the replay).
    await new Inbox({ pool: db.pool, schema: db.inboxSchema, consumer: 'audit' }).handleOnce(event, async () => undefined);
    expect(await inboxState('payments', eventId)).toEqual({ inbox: true, failures: true });

    const { code, stdout, stderr } = await ctl(['dlq', 'replay', id, '--json'], db.env);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const rows = await outboxRows(db);
    expect(rows).toEqual([
      {
        seq: '1',
        id: expect.any(String),
        aggregateId: 'order-1',
        eventType: 'OrderCreated',
        payload: { orderId: 'order-1', amount: 42 },
        headers: { correlationId: 'corr-7', traceparent: TRACEPARENT, tenant: 'acme', replayOf: eventId },
        published: false,
      },
    ]);
    expect(rows[0]!.id).not.toBe(eventId);
    expect(JSON.parse(stdout)).toEqual({
      results: [
        {
          id,
          status: 'ok',
          result: {
            id,
            kind: 'consumer',
            consumer: 'payments',
            eventId,
            enqueuedId: rows[0]!.id,
            seq: '1',
            partition: 0,
            aggregateType: 'Order',
            aggregateId: 'order-1',
            eventType: 'OrderCreated',
            inboxRowDeleted: true,
            failureCounterDeleted: true,
          },
        },
      ],
    });
    expect(await inboxState('payments', eventId)).toEqual({ inbox: false, failures: false });
    expect(await inboxState('audit', eventId)).toEqual({ inbox: true, failures: false });
    expect((await deadLetterRow(id)).resolution).toBe('replayed');
  });

  it('carries over no CloudEvents header of a message received in cloudevents mode: only the application\'s, the correlation id decoded', async () => {
    const eventId = randomUUID();
    const event = inboxEvent({
      eventId,
      headers: {
        'Nats-Msg-Id': eventId,
        'ce-specversion': '1.0',
        'ce-id': eventId,
        'ce-source': '/outbox-relay/outbox',
        'ce-type': 'Order.OrderCreated',
        'ce-subject': 'order-1',
        'ce-time': '2026-01-02T03:04:05.678Z',
        'ce-datacontenttype': 'application/json',
        'content-type': 'application/json',
        'ce-traceparent': TRACEPARENT,
        'ce-correlationid': 'corr%207',
        'ce-outboxpartition': '0',
        'ce-outboxseq': '12',
        traceparent: TRACEPARENT,
        tenant: 'acme',
      },
    });
    const id = await makeConsumerDeadLetter(db, 'payments', event);
    const { code, stderr } = await ctl(['dlq', 'replay', id], db.env);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const [row] = await outboxRows(db);
    expect(row!.headers).toEqual({ correlationId: 'corr 7', traceparent: TRACEPARENT, tenant: 'acme', replayOf: eventId });
  });

  it('rolls back the inbox deletes when the enqueue fails', async () => {
    // An event type that is not a valid subject token: enqueue refuses it after the deletes ran.
    const event = inboxEvent({ eventId: 'evt-bad', eventType: 'Order Created!' });
    const id = await makeConsumerDeadLetter(db, 'payments', event);
    await new Inbox({ pool: db.pool, schema: db.inboxSchema, consumer: 'payments' }).recordFailure(event, new Error('late'));

    const { code, stderr } = await ctl(['dlq', 'replay', id], db.env);
    expect(code).toBe(1);
    expect(stderr).toContain(`${id}: cannot be enqueued (invalid outbox event: eventType:`);
    expect(stderr).toContain('nothing changed');
    expect(await inboxState('payments', 'evt-bad')).toEqual({ inbox: true, failures: true });
    expect(await deadLetterRow(id)).toEqual({ resolution: null, resolved_at: null });
    expect(await outboxRows(db)).toEqual([]);
  });

  it('refuses a dead letter without aggregate information or without a JSON payload, changing nothing', async () => {
    const noAggregate = await makeConsumerDeadLetter(db, 'payments', inboxEvent({ eventId: 'evt-na', aggregateType: undefined, aggregateId: undefined }));
    const notJson = await makeConsumerDeadLetter(
      db,
      'payments',
      inboxEvent({ eventId: 'evt-raw', payload: null, parseError: 'payload is not JSON', rawPayload: '{oops' }),
    );
    const first = await ctl(['dlq', 'replay', noAggregate], db.env);
    expect(first.code).toBe(1);
    expect(first.stderr).toContain(`${noAggregate}: has no aggregate type/id`);
    expect(first.stderr).toContain('cannot be replayed through the outbox; nothing changed');
    const second = await ctl(['dlq', 'replay', notJson], db.env);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`${notJson}: its payload is not JSON`);
    expect(await inboxState('payments', 'evt-na')).toEqual({ inbox: true, failures: false });
    expect(await inboxState('payments', 'evt-raw')).toEqual({ inbox: true, failures: false });
    expect(await deadLetterRow(noAggregate)).toEqual({ resolution: null, resolved_at: null });
    expect(await outboxRows(db)).toEqual([]);
  });

  it('takes the aggregate from the headers when the columns are empty', async () => {
    const id = await makeConsumerDeadLetter(
      db,
      'payments',
      inboxEvent({
        eventId: 'evt-h',
        aggregateType: undefined,
        aggregateId: undefined,
        headers: { 'Outbox-Aggregate-Type': 'Invoice', 'Outbox-Aggregate-Id': 'inv-3' },
      }),
    );
    expect((await ctl(['dlq', 'replay', id], db.env)).code).toBe(0);
    expect(await outboxRows(db)).toEqual([expect.objectContaining({ aggregateId: 'inv-3', headers: { replayOf: 'evt-h' } })]);
  });
});

describe('outboxctl dlq replay --all', () => {
  it('replays every open dead letter, relay ones in their original order, reporting each and the failures', async () => {
    const [first, second] = await enqueueEvents(db, [1, 2].map((n) => ({ aggregateType: 'Order', aggregateId: 'order-5', eventType: 'OrderStep', payload: { n } })));
    // The later event was dead-lettered first, so its dead letter has the lower id; --all goes by original seq.
    const r1 = { id: await makeRelayDeadLetter(db, second!.id), eventId: second!.id };
    const r2 = { id: await makeRelayDeadLetter(db, first!.id), eventId: first!.id };
    expect([r1.id, r2.id]).toEqual(['r1', 'r2']);
    const c1 = await makeConsumerDeadLetter(db, 'payments', inboxEvent({ eventId: 'evt-p' }));
    const c2 = await makeConsumerDeadLetter(db, 'audit', inboxEvent({ eventId: 'evt-a', aggregateType: undefined, aggregateId: undefined }));

    const { code, stdout, stderr } = await ctl(['dlq', 'replay', '--all'], db.env);
    expect(code).toBe(1); // c2 cannot be replayed
    expect(stdout).toContain(`${r1.id}: replayed`);
    expect(stdout).toContain(`${r2.id}: replayed`);
    expect(stdout).toContain(`${c1}: replayed for consumer "payments"`);
    expect(stdout).toContain('replayed: 3 of 4 dead letters');
    expect(stderr).toContain(`${c2}: has no aggregate type/id`);
    const rows = await outboxRows(db);
    expect(rows.map((r) => r.id)).toEqual([first!.id, second!.id, expect.any(String)]);
    expect(rows[2]!.headers.replayOf).toBe('evt-p');

    const nothing = await ctl(['dlq', 'replay', '--all', '--relay'], db.env);
    expect(nothing.code).toBe(0);
    expect(nothing.stdout).toBe('no open dead letters to replay\n');
  });

  it('orders by number, not by text, past ten dead letters', async () => {
    const written = await enqueueEvents(
      db,
      Array.from({ length: 11 }, (_, n) => ({ aggregateType: 'Order', aggregateId: 'order-7', eventType: 'OrderStep', payload: { n } })),
    );
    // Dead-lettered last-first: r1 holds seq 11, r11 holds seq 1.
    for (const row of [...written].reverse()) await makeRelayDeadLetter(db, row.id);
    for (let n = 1; n <= 11; n++) await makeConsumerDeadLetter(db, 'payments', inboxEvent({ eventId: `evt-${n}` }));
    const listed = JSON.parse((await ctl(['dlq', 'list', '--json', '--consumer', 'payments'], db.env)).stdout);
    expect(listed.deadLetters.map((d: { id: string }) => d.id)).toEqual(Array.from({ length: 11 }, (_, i) => `c${i + 1}`));
    expect((await ctl(['dlq', 'replay', '--all', '--relay'], db.env)).code).toBe(0);
    expect((await outboxRows(db)).map((r) => r.id)).toEqual(written.map((w) => w.id));
  });

  it('--consumer limits --all to that consumer', async () => {
    const relay = await relayDeadLetter();
    const mine = await makeConsumerDeadLetter(db, 'payments', inboxEvent({ eventId: 'evt-1' }));
    const other = await makeConsumerDeadLetter(db, 'audit', inboxEvent({ eventId: 'evt-2' }));
    const { code, stdout } = await ctl(['dlq', 'replay', '--all', '--consumer', 'payments', '--json'], db.env);
    expect(code).toBe(0);
    expect(JSON.parse(stdout).results.map((r: { id: string; status: string }) => [r.id, r.status])).toEqual([[mine, 'ok']]);
    expect((await deadLetterRow(relay.id)).resolution).toBeNull();
    expect((await deadLetterRow(other)).resolution).toBeNull();
  });
});
