/**
 * The relay publishes the payload's bytes as the writer gave them (issue 15, part 2): key order, whitespace, unicode
 * escapes, numbers of any size and duplicate keys arrive unchanged, from the TypeScript enqueue (payloadJson) and from
 * the SQL function with a json or text argument (jsonb, the old signature, still works and gives jsonb's canonical
 * text). A database migrated with jsonb rows in it still publishes them, with the bytes they had before.
 */
import { Client } from 'pg';
import { enqueue, EventValidationError, migrateOutbox, OutboxRelay, type OutboxEventInput } from '@outbox-relay/outbox';
import { makeRelay, readStream, relayTestBed, TEST_DATABASE_URL, undoNewestOutboxMigrations, waitFor, type StoredMessage } from '@outbox-relay/test-support';

const bed = relayTestBed('paybytes');
const schema = () => bed.db.schema;

// What jsonb would change: key order and duplicates, whitespace and line breaks, \u escapes (an escaped surrogate
// pair, an escaped é beside a raw one), \/ , a number past double precision, an exponent, -0.
const SIGNED = '{ "z": 1,\n\t"a" : [ 12345678901234567890123456789.000000000000000000001, 1E+2, -0.0 ],\n  "s": "\\u00e9 é \\ud83d\\ude00 😀 \\/",\n  "a": null }';

async function startRelay(): Promise<OutboxRelay> {
  const relay = makeRelay(bed.db, bed.ns, bed.ns.nc);
  bed.relays.push(relay);
  await relay.start();
  return relay;
}

async function streamHolds(n: number): Promise<StoredMessage[]> {
  return waitFor(`${n} messages in the stream`, async () => {
    const messages = await readStream(bed.ns.nc, bed.ns.stream).catch(() => []);
    return messages.length >= n ? messages : undefined;
  });
}

const bytesOf = (m: StoredMessage) => Buffer.from(m.text, 'utf8');
const event = (aggregateId: string): Omit<OutboxEventInput, 'payload' | 'payloadJson'> => ({ aggregateType: 'Doc', aggregateId, eventType: 'Signed' });

/** SQL text a writer in another language sends, as a plain (simple-protocol) query. */
const literal = (v: string) => `'${v.replace(/'/g, "''")}'`;

it('from the TypeScript enqueue: payloadJson arrives byte for byte; payload as JSON.stringify gives it', async () => {
  await startRelay();
  await bed.outbox.transaction((tx) => bed.outbox.enqueue(tx, [{ ...event('d-1'), payloadJson: SIGNED }, { ...event('d-2'), payload: { z: 1, a: [1.5, 'é'] } }]));
  const messages = await streamHolds(2);
  expect(bytesOf(messages[0]!).equals(Buffer.from(SIGNED, 'utf8'))).toBe(true);
  expect(messages[1]!.text).toBe('{"z":1,"a":[1.5,"é"]}');
  const { rows } = await bed.db.pool.query(`SELECT payload::text AS text FROM "${schema()}".outbox ORDER BY seq`);
  expect(rows.map((r) => r.text)).toEqual([SIGNED, '{"z":1,"a":[1.5,"é"]}']);
});

it('from the SQL function: a text literal, a text or json parameter arrive byte for byte; a jsonb one as jsonb text', async () => {
  await startRelay();
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query('BEGIN');
    // An untyped literal (psql, a driver's simple query) resolves to the text variant.
    await client.query(`SELECT * FROM "${schema()}".enqueue('Doc', 's-1', 'Signed', ${literal(SIGNED)})`);
    await client.query(`SELECT * FROM "${schema()}".enqueue('Doc', 's-2', 'Signed', $1)`, [SIGNED]);
    await client.query(`SELECT * FROM "${schema()}".enqueue('Doc', 's-3', 'Signed', $1::json, '{"correlationId": "r-1"}')`, [SIGNED]);
    await client.query(`SELECT * FROM "${schema()}".enqueue('Doc', 's-4', 'Signed', $1::jsonb)`, [SIGNED]);
    await client.query('COMMIT');
    const canonical = (await client.query<{ text: string }>('SELECT $1::jsonb::text AS text', [SIGNED])).rows[0]!.text;
    expect(canonical).not.toBe(SIGNED);
    const messages = await streamHolds(4);
    expect(messages.map((m) => m.aggregateId)).toEqual(['s-1', 's-2', 's-3', 's-4']);
    for (const m of messages.slice(0, 3)) expect(bytesOf(m).equals(Buffer.from(SIGNED, 'utf8'))).toBe(true);
    expect(messages[3]!.text).toBe(canonical);
  } finally {
    await client.end();
  }
});

describe('refused, naming the field or parameter, nothing written', () => {
  it('TypeScript: payloadJson that is not JSON, holds a lone surrogate, comes with payload; neither given', async () => {
    const fieldsOf = async (events: unknown[]) => {
      const error = await bed.outbox.transaction((tx) => enqueue(tx, events as OutboxEventInput[], { schema: schema() })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EventValidationError);
      return (error as EventValidationError).issues.map((i) => `${i.path}: ${i.message}`);
    };
    expect(
      await fieldsOf([
        { ...event('v-1'), payloadJson: '{"a": 1,}' },
        { ...event('v-2'), payloadJson: '"\ud800"' },
        { ...event('v-3'), payload: 1, payloadJson: '1' },
        { ...event('v-4') },
        { ...event('v-5'), payloadJson: 42 },
      ]),
    ).toEqual([
      expect.stringMatching(/^\[0\]\.payloadJson: is not JSON \(/),
      '[1].payloadJson: must be well-formed Unicode (it holds a lone surrogate, which UTF-8 cannot carry)',
      '[2].payloadJson: must not be given with payload (one or the other)',
      '[3].payload: is required (or payloadJson, the payload as JSON text)',
      '[4].payloadJson: must be a string of JSON text',
    ]);
    const { rows } = await bed.db.pool.query(`SELECT count(*)::int AS n FROM "${schema()}".outbox`);
    expect(rows[0].n).toBe(0);
  });

  it('SQL: a text payload that is not JSON is refused with 22023 naming payload', async () => {
    const error = await bed.db.pool.query(`SELECT * FROM "${schema()}".enqueue('Doc', 'x-1', 'Signed', '{"a": 1,}')`).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: '22023', message: 'outbox.enqueue: payload must be JSON text' });
    expect((error as { detail?: string }).detail).toMatch(/^invalid input syntax for type json/);
  });
});

it('a database migrated with jsonb rows in it publishes them with the bytes they had, and keeps its dead letters', async () => {
  const db = bed.db;
  // The schema as the previous version left it (payload jsonb), with events written then: by a TypeScript writer of
  // that version (jsonb parameters) and by the SQL function of that version, and a relay dead letter.
  // (and before the lease timeline and the event state views that came after it)
  expect(await undoNewestOutboxMigrations(db.pool, db.schema, 3)).toEqual(['1733600000000_event_state_views', '1733500000000_lease_timeline', '1733400000000_payload_json']);
  const type = async (table: string) =>
    (await db.pool.query(`SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = 'payload'`, [db.schema, table])).rows[0].data_type;
  expect(await type('outbox')).toBe('jsonb');
  await db.pool.query(
    `INSERT INTO "${db.schema}".outbox (id, partition, aggregate_type, aggregate_id, event_type, payload)
     VALUES (gen_random_uuid(), 0, 'Doc', 'old-1', 'Signed', $1::jsonb)`,
    [SIGNED],
  );
  await db.pool.query(`SELECT * FROM "${db.schema}".enqueue('Doc', 'old-2', 'Signed', $1)`, [SIGNED]);
  await db.pool.query(
    `INSERT INTO "${db.schema}".outbox_dead_letters (event_id, seq, partition, aggregate_type, aggregate_id, event_type, payload, headers, created_at, reason, attempts, failed_epoch)
     VALUES (gen_random_uuid(), 99, 0, 'Doc', 'old-3', 'Signed', $1::jsonb, '{}', now(), 'too large', 5, 1)`,
    [SIGNED],
  );
  const before = (await db.pool.query(`SELECT $1::jsonb::text AS text`, [SIGNED])).rows[0].text as string;

  const { ran } = await migrateOutbox({ pool: db.pool, schema: db.schema });
  expect(ran).toEqual(['1733400000000_payload_json', '1733500000000_lease_timeline', '1733600000000_event_state_views']);
  expect([await type('outbox'), await type('outbox_dead_letters')]).toEqual(['json', 'json']);
  await startRelay();
  const messages = await streamHolds(2);
  expect(messages.map((m) => [m.aggregateId, m.text])).toEqual([
    ['old-1', before],
    ['old-2', before],
  ]);
  const { rows } = await db.pool.query(`SELECT payload::text AS text FROM "${db.schema}".outbox_dead_letters`);
  expect(rows).toEqual([{ text: before }]);
});
