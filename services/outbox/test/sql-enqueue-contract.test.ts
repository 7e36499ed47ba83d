/**
 * `<schema>.enqueue(...)`, the SQL function for writers in other languages (migration 1733300000000_enqueue_function),
 * against the TypeScript `enqueue` on the real Postgres: the same lock space, the same partition for the same
 * aggregate, the same row, the same refusals (SQLSTATE 22023, a message naming the parameter, nothing written),
 * and the NOTIFY that wakes the relays at commit.
 */
import { Client, type ClientBase } from 'pg';
import { enqueue, EventValidationError, outboxTables, PayloadTooLargeError, type OutboxEventInput } from '@outbox-relay/outbox';
import { relaySignalPayload } from '@outbox-relay/outbox/internal';
import { createTestSchema, TEST_DATABASE_URL, waitFor, type TestSchema } from '@outbox-relay/test-support';

let db: TestSchema;
beforeAll(async () => {
  db = await createTestSchema('sqlenq_contract');
});
afterAll(async () => {
  await db.drop();
});

/** One SQL call of the function; SQL NULL where a field is undefined (what a driver sends for nil/None). */
function sqlEnqueue(client: Pick<ClientBase, 'query'>, schema: string, e: Partial<OutboxEventInput>) {
  return client.query<{ id: string; seq: string; partition: number }>(
    `SELECT * FROM "${schema}".enqueue($1, $2, $3, $4::jsonb, $5::jsonb, $6::uuid)`,
    [
      e.aggregateType ?? null,
      e.aggregateId ?? null,
      e.eventType ?? null,
      e.payload === undefined ? null : JSON.stringify(e.payload),
      e.headers === undefined ? null : JSON.stringify(e.headers),
      e.id ?? null,
    ],
  );
}

async function rowCount(schema = db.schema): Promise<number> {
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM "${schema}".outbox`);
  return rows[0].n;
}

describe('the lock space', () => {
  it('outbox_lock_space(schema) is outboxTables(schema).lockSpace (fnv1a32("outbox:" + schema) | 0)', async () => {
    const names = ['outbox', 'a', '_', 'orders_outbox', 'payments', 'tenant_0042', 'x'.repeat(48), db.schema, 'outbox_2'];
    const expected = names.map((n) => outboxTables(n).lockSpace);
    // Both signs occur, so the conversion to a signed 32-bit integer is exercised.
    expect(expected.some((v) => v < 0) && expected.some((v) => v > 0)).toBe(true);
    const { rows } = await db.pool.query(`SELECT "${db.schema}".outbox_lock_space(n) AS v FROM unnest($1::text[]) WITH ORDINALITY AS t(n, i) ORDER BY i`, [
      names,
    ]);
    expect(rows.map((r) => r.v)).toEqual(expected);
  });
});

describe('the same event from SQL and from TypeScript', () => {
  it('lands in the same partition, for several aggregates and partition counts, as the same row', async () => {
    const aggregates = [
      ...Array.from({ length: 30 }, (_, i) => ({ type: i % 2 ? 'Order' : 'Payment', id: `agg-${i}` })),
      { type: 'Account', id: 'ünïcødé/with spaces inside' },
      { type: 'Account_2', id: '😀'.repeat(20) },
      { type: 'a', id: '42' },
    ];
    for (const partitions of [1, 3, 8, 13]) {
      const other = await createTestSchema('sqlenq_parts', { partitions });
      try {
        const client = await other.pool.connect();
        try {
          await client.query('BEGIN');
          const fromTs: number[] = [];
          const fromSql: number[] = [];
          for (const a of aggregates) {
            const event = { aggregateType: a.type, aggregateId: a.id, eventType: 'Happened', payload: { n: 1, list: [1, 'two'] }, headers: { tenant: 'acme' } };
            fromTs.push((await enqueue(client, event, { schema: other.schema }))[0]!.partition);
            fromSql.push((await sqlEnqueue(client, other.schema, event)).rows[0]!.partition);
          }
          await client.query('COMMIT');
          expect(fromSql).toEqual(fromTs);
          if (partitions > 1) expect(new Set(fromSql).size).toBeGreaterThan(1);
          // Everything the relay reads is the same, pair by pair (only id, seq and created_at differ), and so is the
          // events' state (pending: no published_at or published_epoch).
          const { rows } = await client.query(
            `SELECT partition, aggregate_type, aggregate_id, event_type, payload, headers, published_at, published_epoch
             FROM (SELECT seq, partition, aggregate_type, aggregate_id, event_type, payload, headers,
                          NULL::timestamptz AS published_at, NULL::bigint AS published_epoch
                   FROM "${other.schema}".outbox_pending
                   UNION ALL
                   SELECT seq, partition, aggregate_type, aggregate_id, event_type, payload, headers, published_at, published_epoch
                   FROM "${other.schema}".outbox_published) o
             ORDER BY seq`,
          );
          expect(rows).toHaveLength(aggregates.length * 2);
          for (let i = 0; i < rows.length; i += 2) expect(rows[i + 1]).toEqual(rows[i]);
        } finally {
          client.release();
        }
      } finally {
        await other.drop();
      }
    }
  });

  it('returns the row written: the given event id, or a new one', async () => {
    const id = '8f0e2c9a-5d0b-4f7e-9a43-6c1d2b3a4e5f';
    const given = (await sqlEnqueue(db.pool, db.schema, { aggregateType: 'Order', aggregateId: 'ret-1', eventType: 'E', payload: null, id })).rows[0]!;
    const fresh = (await sqlEnqueue(db.pool, db.schema, { aggregateType: 'Order', aggregateId: 'ret-1', eventType: 'E', payload: 1 })).rows[0]!;
    expect(given.id).toBe(id);
    expect(fresh.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(BigInt(fresh.seq)).toBeGreaterThan(BigInt(given.seq));
    const { rows } = await db.pool.query(`SELECT id, seq::text, partition, payload, headers FROM "${db.schema}".outbox WHERE aggregate_id = 'ret-1' ORDER BY seq`);
    expect(rows).toEqual([
      { id, seq: given.seq, partition: given.partition, payload: null, headers: {} },
      { id: fresh.id, seq: fresh.seq, partition: fresh.partition, payload: 1, headers: {} },
    ]);
  });
});

describe('validation: what the TypeScript enqueue refuses, the SQL function refuses with 22023, writing nothing', () => {
  const ok: OutboxEventInput = { aggregateType: 'Order', aggregateId: 'o-1', eventType: 'OrderCreated', payload: { amount: 1 } };
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const manyHeaders = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, 'v']));
  /** [what, the event, the parameter the message must name] */
  const refused: Array<[string, Partial<OutboxEventInput>, string]> = [
    ['aggregate_type with a dot', { aggregateType: 'Order.Created' }, 'aggregate_type must be 1-128 letters'],
    ['aggregate_type with a wildcard', { aggregateType: 'Order*' }, 'aggregate_type must be 1-128 letters'],
    ['aggregate_type starting with a digit', { aggregateType: '1Order' }, 'aggregate_type must be 1-128 letters'],
    ['aggregate_type of 129 characters', { aggregateType: 'A'.repeat(129) }, 'aggregate_type must be 1-128 letters'],
    ['aggregate_type empty', { aggregateType: '' }, 'aggregate_type must be 1-128 letters'],
    ['aggregate_type NULL', { aggregateType: undefined }, 'aggregate_type must be 1-128 letters'],
    ['event_type with a space', { eventType: 'Order Created' }, 'event_type must be 1-128 letters'],
    ['event_type ">"', { eventType: '>' }, 'event_type must be 1-128 letters'],
    ['event_type NULL', { eventType: undefined }, 'event_type must be 1-128 letters'],
    ['aggregate_id empty', { aggregateId: '' }, 'aggregate_id must be 1-256 characters'],
    ['aggregate_id of 257 characters', { aggregateId: 'x'.repeat(257) }, 'aggregate_id must be 1-256 characters'],
    ['aggregate_id of 257 emoji', { aggregateId: '😀'.repeat(257) }, 'aggregate_id must be 1-256 characters'],
    ['aggregate_id NULL', { aggregateId: undefined }, 'aggregate_id must be 1-256 characters'],
    ['aggregate_id with a line break', { aggregateId: 'a\nb' }, 'aggregate_id must not contain control characters'],
    ['aggregate_id with a tab', { aggregateId: 'a\tb' }, 'aggregate_id must not contain control characters'],
    ['aggregate_id with DEL', { aggregateId: 'a\u007fb' }, 'aggregate_id must not contain control characters'],
    ['aggregate_id with a leading space', { aggregateId: ' o-1' }, 'aggregate_id must not start or end with whitespace'],
    ['aggregate_id with a trailing no-break space', { aggregateId: 'o-1\u00a0' }, 'aggregate_id must not start or end with whitespace'],
    ['aggregate_id with a leading ideographic space', { aggregateId: '\u3000o-1' }, 'aggregate_id must not start or end with whitespace'],
    ['payload SQL NULL', { payload: undefined }, 'payload must be a JSON value'],
    ['payload and headers over 512 KiB', { payload: { blob: 'x'.repeat(512 * 1024) } }, 'payload and headers must be at most 524288 bytes'],
    ['headers a JSON array', { headers: [] as never }, 'headers must be a JSON object'],
    ['headers a JSON string', { headers: 'x' as never }, 'headers must be a JSON object'],
    ['headers JSON null', { headers: null as never }, 'headers must be a JSON object'],
    ['33 headers', { headers: manyHeaders(33) }, 'headers must have at most 32 entries'],
    ['a header value that is a number', { headers: { tenant: 1 as never } }, 'headers.tenant must be a string'],
    ['a header value that is an object', { headers: { tenant: {} as never } }, 'headers.tenant must be a string'],
    ['a header name with "_"', { headers: { tenant_id: 'x' } }, 'headers: the name "tenant_id" must be 1-64 letters'],
    ['a header name starting with a digit', { headers: { '1x': 'x' } }, 'headers: the name "1x" must be 1-64 letters'],
    ['a header name of 65 characters', { headers: { ['H'.repeat(65)]: 'x' } }, `headers: the name "${'H'.repeat(65)}" must be 1-64 letters`],
    ['a header value of 4097 emoji', { headers: { note: '😀'.repeat(4097) } }, 'headers.note must be at most 4096 characters'],
    ['a header name "Nats-Msg-Id"', { headers: { 'Nats-Msg-Id': 'x' } }, 'headers: the name "Nats-Msg-Id" is reserved'],
    ['a header name "NATS-Rollup"', { headers: { 'NATS-Rollup': 'all' } }, 'headers: the name "NATS-Rollup" is reserved'],
    ['a header name "outbox-event-id"', { headers: { 'outbox-event-id': 'x' } }, 'headers: the name "outbox-event-id" is reserved'],
    ['a header value of 4097 characters', { headers: { note: 'x'.repeat(4097) } }, 'headers.note must be at most 4096 characters'],
    ['a header value with CR LF', { headers: { note: 'a\r\nInjected: 1' } }, 'headers.note must not contain control characters'],
    ['a header value with a leading space', { headers: { note: ' a' } }, 'headers.note must not start or end with whitespace'],
    ['a header value ending in U+2028', { headers: { note: 'a\u2028' } }, 'headers.note must not start or end with whitespace'],
    ['a traceparent that is not one', { headers: { traceparent: 'not-a-trace' } }, 'headers.traceparent must be a W3C traceparent'],
    ['a traceparent in upper case', { headers: { traceparent: traceparent.toUpperCase() } }, 'headers.traceparent must be a W3C traceparent'],
    ['an event_id of no UUID version', { id: '8f0e2c9a-5d0b-0f7e-9a43-6c1d2b3a4e5f' }, 'event_id must be a UUID'],
    ['an event_id of the wrong variant', { id: '8f0e2c9a-5d0b-4f7e-ca43-6c1d2b3a4e5f' }, 'event_id must be a UUID'],
  ];

  it.each(refused)('refuses %s', async (_what, change, message) => {
    const event = { ...ok, ...change } as OutboxEventInput;
    // The TypeScript enqueue refuses it too (the rule is the same rule).
    const tsError = await enqueue(db.pool as never, event, { schema: db.schema }).catch((e: unknown) => e);
    expect(tsError instanceof EventValidationError || tsError instanceof PayloadTooLargeError).toBe(true);
    const before = await rowCount();
    const client = new Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      await client.query('BEGIN');
      const error = (await sqlEnqueue(client, db.schema, event).catch((e: unknown) => e)) as { code?: string; message?: string };
      expect(error).toBeInstanceOf(Error);
      expect(error.code).toBe('22023');
      expect(error.message).toContain(`outbox.enqueue: ${message}`);
      // The caller's transaction is aborted, as by any SQL error.
      await expect(client.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
      await client.query('ROLLBACK');
      // Outside a transaction block too: refused, nothing written, no wake-up sent.
      await client.query(`LISTEN "${outboxTables(db.schema).channel}"`);
      const notified: string[] = [];
      client.on('notification', (n) => notified.push(n.payload ?? ''));
      await expect(sqlEnqueue(client, db.schema, event)).rejects.toMatchObject({ code: '22023' });
      await client.query('SELECT 1'); // notifications of a commit arrive before the reply to the next statement
      expect(notified).toEqual([]);
    } finally {
      await client.end();
    }
    expect(await rowCount()).toBe(before);
  });

  /** [what, the event] at the edge of each rule: both accept them. */
  const accepted: Array<[string, Partial<OutboxEventInput>]> = [
    ['aggregate_type and event_type of 128 characters with "_" and "-"', { aggregateType: `A${'_-9'.repeat(42)}b`, eventType: `e${'x'.repeat(127)}` }],
    ['an aggregate_id of 256 characters', { aggregateId: 'x'.repeat(256) }],
    ['an aggregate_id of 256 emoji (characters, not UTF-16 units, are counted)', { aggregateId: '😀'.repeat(256) }],
    ['an aggregate_id with inner spaces and slashes', { aggregateId: 'a b/c.d*>' }],
    ['32 headers', { headers: manyHeaders(32) }],
    ['a header name of 64 characters, a value of 4096', { headers: { ['H'.repeat(64)]: 'v'.repeat(4096) } }],
    ['a header value of 4096 emoji', { headers: { note: '😀'.repeat(4096) } }],
    ['names that only look reserved', { headers: { natsy: 'x', 'Outboxer-Id': 'y', correlationId: 'c-1', replayOf: '8f0e2c9a-5d0b-4f7e-9a43-6c1d2b3a4e5f' } }],
    ['a W3C traceparent, a tracestate', { headers: { traceparent, tracestate: 'vendor=opaque' } }],
    ['a payload that is JSON null', { payload: null }],
    ['a payload just under 512 KiB', { payload: 'x'.repeat(512 * 1024 - 10) }],
    ['the nil UUID as event_id', { id: '00000000-0000-0000-0000-000000000000' }],
    ['SQL NULL headers (no headers)', { headers: undefined }],
  ];

  it.each(accepted)('accepts %s, as TypeScript does', async (_what, change) => {
    const event = { ...ok, ...change } as OutboxEventInput;
    const viaTs = await db.pool.connect();
    try {
      await viaTs.query('BEGIN');
      await expect(enqueue(viaTs, { ...event, id: undefined }, { schema: db.schema })).resolves.toHaveLength(1);
      await viaTs.query('ROLLBACK');
    } finally {
      viaTs.release();
    }
    const before = await rowCount();
    const { rows } = await sqlEnqueue(db.pool, db.schema, event);
    expect(rows).toHaveLength(1);
    expect(await rowCount()).toBe(before + 1);
    await db.pool.query(`DELETE FROM "${db.schema}".outbox WHERE id = $1`, [rows[0]!.id]);
  });

  it('an event_id that is no UUID at all is refused by Postgres before the function runs (22P02), nothing written', async () => {
    const before = await rowCount();
    await expect(sqlEnqueue(db.pool, db.schema, { ...ok, id: 'nope' })).rejects.toMatchObject({ code: '22P02' });
    expect(await rowCount()).toBe(before);
  });
});

describe('the wake-up', () => {
  it('NOTIFYs "wake" on the relays\' channel at COMMIT (once per transaction), nothing on ROLLBACK', async () => {
    const channel = outboxTables(db.schema).channel;
    const listener = new Client({ connectionString: TEST_DATABASE_URL });
    const writer = new Client({ connectionString: TEST_DATABASE_URL });
    await Promise.all([listener.connect(), writer.connect()]);
    const heard: string[] = [];
    listener.on('notification', (n) => {
      if (n.channel === channel) heard.push(n.payload ?? '');
    });
    try {
      await listener.query(`LISTEN "${channel}"`);
      const event = { aggregateType: 'Order', aggregateId: 'wake-1', eventType: 'E', payload: 1 };
      // Rolled back: no notification. A committed transaction with a marker follows, so "nothing" is observed, not
      // waited for: notifications are delivered in commit order.
      await writer.query('BEGIN');
      await sqlEnqueue(writer, db.schema, event);
      await writer.query('ROLLBACK');
      await writer.query('BEGIN');
      await sqlEnqueue(writer, db.schema, event);
      await sqlEnqueue(writer, db.schema, { ...event, aggregateId: 'wake-2' });
      await sqlEnqueue(writer, db.schema, event);
      await writer.query('COMMIT');
      await writer.query(`NOTIFY "${channel}", 'marker'`);
      await waitFor('the marker', () => heard.includes('marker'));
      // One wake-up for the three calls of the committed transaction, none for the rolled-back one.
      expect(heard).toEqual([relaySignalPayload({ kind: 'wake' }), 'marker']);
    } finally {
      await Promise.all([listener.end(), writer.end()]);
    }
  });
});
