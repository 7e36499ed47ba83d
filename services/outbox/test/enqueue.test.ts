import { enqueue, EventValidationError, Outbox, PayloadTooLargeError, readPartitionCount, configurePartitions } from '@outbox-relay/outbox';
import { createTestSchema, type TestSchema } from '@outbox-relay/test-support';

let db: TestSchema;
beforeAll(async () => {
  db = await createTestSchema('enqueue');
});
afterAll(async () => {
  await db.drop();
});

const order = (id: string) => ({
  aggregateType: 'Order',
  aggregateId: id,
  eventType: 'OrderCreated',
  payload: { orderId: id, amount: 12.5 },
});

async function countEvents(aggregateId: string): Promise<number> {
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM "${db.schema}".outbox WHERE aggregate_id = $1`, [aggregateId]);
  return rows[0].n;
}

describe('enqueue', () => {
  it('writes the event only when the transaction commits (atomicity)', async () => {
    const outbox = new Outbox({ pool: db.pool, schema: db.schema });
    await expect(
      outbox.transaction(async (tx) => {
        await tx.query(`CREATE TABLE IF NOT EXISTS "${db.schema}".biz (id text primary key)`);
        await outbox.enqueue(tx, order('rolled-back'));
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    expect(await countEvents('rolled-back')).toBe(0);

    const [written] = await outbox.transaction((tx) => outbox.enqueue(tx, order('committed')));
    expect(await countEvents('committed')).toBe(1);
    expect(written?.partition).toBe(0);
    await outbox.close();
  });

  it('keeps the order of events given in one call and generates ids', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const rows = await enqueue(
        client,
        [1, 2, 3].map((n) => ({ ...order('batch'), eventType: `Step${n}`, payload: { n } })),
        { schema: db.schema },
      );
      await client.query('COMMIT');
      expect(rows.map((r) => BigInt(r.seq))).toEqual([...rows.map((r) => BigInt(r.seq))].sort((a, b) => (a < b ? -1 : 1)));
      const { rows: stored } = await client.query(
        `SELECT event_type, payload FROM "${db.schema}".outbox WHERE aggregate_id = 'batch' ORDER BY seq`,
      );
      expect(stored.map((r) => r.event_type)).toEqual(['Step1', 'Step2', 'Step3']);
      expect(new Set(rows.map((r) => r.id)).size).toBe(3);
    } finally {
      client.release();
    }
  });

  it('rejects invalid events with a typed error naming each bad field, writing nothing', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const error = await enqueue(
        client,
        [order('ok-1'), { aggregateType: 'Order.Bad', aggregateId: '', eventType: 'X', payload: undefined as never, id: 'nope' }],
        { schema: db.schema },
      ).catch((e: unknown) => e);
      await client.query('COMMIT');
      expect(error).toBeInstanceOf(EventValidationError);
      const fields = (error as EventValidationError).fields;
      expect(fields).toEqual(expect.arrayContaining(['[1].aggregateType', '[1].aggregateId', '[1].payload', '[1].id']));
      expect(fields.some((f) => f.startsWith('[0]'))).toBe(false);
      expect(await countEvents('ok-1')).toBe(0);
    } finally {
      client.release();
    }
  });

  it('refuses a payload over the size limit with PayloadTooLargeError', async () => {
    const client = await db.pool.connect();
    try {
      const error = await enqueue(client, { ...order('big'), payload: { blob: 'x'.repeat(2048) } }, { schema: db.schema, maxPayloadBytes: 1024 }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(PayloadTooLargeError);
      expect((error as PayloadTooLargeError).limitBytes).toBe(1024);
      expect((error as PayloadTooLargeError).fields).toEqual(['payload']);
      expect(await countEvents('big')).toBe(0);
    } finally {
      client.release();
    }
  });

  it('rejects a duplicated event id inside one call', async () => {
    const client = await db.pool.connect();
    const id = '8f0e2c9a-5d0b-4f7e-9a43-6c1d2b3a4e5f';
    try {
      const error = await enqueue(client, [{ ...order('dup'), id }, { ...order('dup'), id }], { schema: db.schema }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EventValidationError);
      expect((error as EventValidationError).fields).toEqual(['[1].id']);
    } finally {
      client.release();
    }
  });

  it('spreads aggregates over the configured partitions, always the same partition per aggregate', async () => {
    const other = await createTestSchema('enqueue_p4', { partitions: 4 });
    try {
      expect(await readPartitionCount(other.pool, other.schema)).toBe(4);
      const outbox = new Outbox({ pool: other.pool, schema: other.schema });
      const first = await outbox.transaction((tx) =>
        outbox.enqueue(tx, Array.from({ length: 40 }, (_, i) => order(`agg-${i}`))),
      );
      const again = await outbox.transaction((tx) => outbox.enqueue(tx, Array.from({ length: 40 }, (_, i) => order(`agg-${i}`))));
      expect(again.map((r) => r.partition)).toEqual(first.map((r) => r.partition));
      expect(new Set(first.map((r) => r.partition))).toEqual(new Set([0, 1, 2, 3]));
      await expect(configurePartitions(other.pool, other.schema, 2, { drainTimeoutMs: 100 })).rejects.toThrow(/still unpublished after 100 ms/);
      await outbox.close();
    } finally {
      await other.drop();
    }
  });
});

describe('enqueue refuses what cannot travel as a NATS message (issue 13, cases 1a and 2)', () => {
  async function refusal(events: Parameters<typeof enqueue>[1]): Promise<EventValidationError> {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      const error = await enqueue(client, events, { schema: db.schema }).catch((e: unknown) => e);
      await client.query('COMMIT');
      expect(error).toBeInstanceOf(EventValidationError);
      return error as EventValidationError;
    } finally {
      client.release();
    }
  }

  it.each([
    ['a line break', 'line\nbreak'],
    ['a carriage return', 'cr\rhere'],
    ['a tab', 'tab\there'],
    ['a NUL', 'nul\u0000here'],
    ['DEL', 'del\u007fhere'],
    ['leading whitespace (NATS trims header values)', ' padded'],
    ['trailing whitespace', 'padded '],
  ])('an aggregateId with %s, naming the field and writing nothing', async (_what, aggregateId) => {
    const error = await refusal([order('fine-neighbour'), { ...order('x'), aggregateId }]);
    expect(error.fields).toEqual(['[1].aggregateId']);
    expect(await countEvents('fine-neighbour')).toBe(0);
    // (Postgres itself refuses NUL in text, so that one cannot even be looked up.)
    if (!aggregateId.includes('\u0000')) expect(await countEvents(aggregateId)).toBe(0);
  });

  it('a header value with a control character, and a header name that is not a token', async () => {
    const error = await refusal({ ...order('bad-headers'), headers: { 'X-Note': 'a\nb', 'Bad Name': 'v' } });
    expect(error.fields).toEqual(expect.arrayContaining(['headers.X-Note', 'headers.Bad Name']));
    expect(await countEvents('bad-headers')).toBe(0);
  });

  it.each(['Nats-Msg-Id', 'nats-expected-stream', 'Nats-Rollup', 'Outbox-Event-Id', 'OUTBOX-SEQ'])(
    'a custom header named %s (reserved for JetStream and the relay)',
    async (name) => {
      const error = await refusal({ ...order('reserved'), headers: { [name]: 'mine' } });
      expect(error.fields).toEqual([`headers.${name}`]);
      expect(error.message).toMatch(/reserved/);
      expect(await countEvents('reserved')).toBe(0);
    },
  );

  it('a replayOf that cannot travel as a header value', async () => {
    const error = await refusal({ ...order('replay'), headers: { replayOf: 'evt\n1' } });
    expect(error.fields).toEqual(['headers.replayOf']);
  });

  it('still accepts ordinary values: unicode ids, inner spaces, custom headers', async () => {
    const client = await db.pool.connect();
    try {
      const rows = await enqueue(
        client,
        { ...order('kunde 42 · Zürich'), headers: { 'X-Tenant': 'acme corp', correlationId: 'c-1' } },
        { schema: db.schema },
      );
      expect(rows).toHaveLength(1);
    } finally {
      client.release();
    }
  });
});
