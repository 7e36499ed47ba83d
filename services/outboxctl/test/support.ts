import { Inbox, migrateInbox, type InboxEvent } from '@outbox-relay/inbox';
import { Outbox, outboxTables, type OutboxEventInput } from '@outbox-relay/outbox';
import { OutboxReader, type Fence } from '@outbox-relay/outbox/internal';
import { run } from '../src/cli';
import { createTestSchema, type TestSchema, TEST_DATABASE_URL, uniqueName } from '@outbox-relay/test-support';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs outboxctl in-process with exactly `env` as its environment (never the test process's). */
export async function ctl(args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(['node', 'outboxctl', ...args], {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env,
  });
  return { code, stdout, stderr };
}

/** An outbox schema and an inbox schema of this test file's own, both migrated. */
export interface CtlDb extends TestSchema {
  inboxSchema: string;
  outbox: Outbox;
  reader: OutboxReader;
  /** The environment that points outboxctl at these schemas. */
  env: Record<string, string>;
}

export async function createCtlDb(prefix: string, options: { partitions?: number } = {}): Promise<CtlDb> {
  const db = await createTestSchema(prefix, { partitions: options.partitions });
  const inboxSchema = uniqueName(`${prefix}_inbox`);
  await migrateInbox({ pool: db.pool, schema: inboxSchema });
  const outbox = new Outbox({ pool: db.pool, schema: db.schema });
  return {
    ...db,
    inboxSchema,
    outbox,
    reader: new OutboxReader(db.pool, db.schema),
    env: { DATABASE_URL: TEST_DATABASE_URL, OUTBOX_SCHEMA: db.schema, INBOX_SCHEMA: inboxSchema },
    async drop() {
      await outbox.close();
      await db.pool.query(`DROP SCHEMA IF EXISTS "${inboxSchema}" CASCADE`);
      await db.drop();
    },
  };
}

export async function enqueueEvents(db: CtlDb, events: OutboxEventInput[]): Promise<Array<{ id: string; seq: string; partition: number }>> {
  return db.outbox.transaction((tx) => db.outbox.enqueue(tx, events));
}

/** Holds a partition's lease as a fixture "relay" for the duration of `work`, then releases it. */
export async function asLeader<T>(db: CtlDb, partition: number, work: (fence: Fence) => Promise<T>): Promise<T> {
  const t = outboxTables(db.schema);
  const { rows } = await db.pool.query<{ epoch: string }>(
    `UPDATE ${t.partitions} SET holder = 'fixture', epoch = epoch + 1, acquired_at = now(), renewed_at = now(),
       expires_at = now() + interval '1 minute'
     WHERE partition = $1 AND (holder IS NULL OR expires_at <= now()) RETURNING epoch::text AS epoch`,
    [partition],
  );
  if (!rows[0]) throw new Error(`partition ${partition} is leased by someone else`);
  const fence: Fence = { partition, holder: 'fixture', epoch: Number(rows[0].epoch) };
  try {
    return await work(fence);
  } finally {
    await db.pool.query(`UPDATE ${t.partitions} SET holder = NULL, expires_at = now() WHERE partition = $1 AND holder = 'fixture'`, [partition]);
  }
}

/** Marks every pending event of the partition published, the way the relay does after PubAcks. */
export async function publishPending(db: CtlDb, partition = 0): Promise<void> {
  await asLeader(db, partition, async (fence) => {
    const records = await db.reader.readPending(fence, 10_000);
    await db.reader.markPublished(fence, records ?? [], 1);
  });
}

/** Moves a pending event to the relay dead letters through the relay's own fenced statement; returns `r<n>`. */
export async function makeRelayDeadLetter(db: CtlDb, eventId: string, reason = 'maximum payload exceeded'): Promise<string> {
  const t = outboxTables(db.schema);
  const { rows } = await db.pool.query<{ partition: number }>(`SELECT partition FROM ${t.outbox} WHERE id = $1`, [eventId]);
  const partition = rows[0]!.partition;
  const id = await asLeader(db, partition, async (fence) => {
    const record = (await db.reader.readPending(fence, 10_000))!.find((r) => r.id === eventId)!;
    return db.reader.deadLetter(fence, record, reason, 5);
  });
  return `r${id}`;
}

export function inboxEvent(overrides: Partial<InboxEvent> & { eventId: string }): InboxEvent {
  return {
    eventType: 'OrderCreated',
    subject: 'outbox.Order.OrderCreated',
    streamSeq: 7,
    deliveryCount: 4,
    aggregateType: 'Order',
    aggregateId: 'order-1',
    partition: 0,
    seq: 1,
    payload: { orderId: 'order-1', amount: 42 },
    headers: {},
    replayOf: undefined,
    correlationId: undefined,
    traceparent: undefined,
    ...overrides,
  };
}

/** Dead-letters an event for `consumer` through the inbox library (inbox row + dead letter); returns `c<n>`. */
export async function makeConsumerDeadLetter(db: CtlDb, consumer: string, event: InboxEvent, reason = 'gateway declined'): Promise<string> {
  const inbox = new Inbox({ pool: db.pool, schema: db.inboxSchema, consumer });
  const outcome = await inbox.deadLetter(event, reason, 4);
  if (outcome.status !== 'dead_lettered') throw new Error('expected a new dead letter');
  return `c${outcome.id}`;
}

/** Every outbox row, in seq order, as plain values (pending and published, through the event state views). */
export async function outboxRows(db: CtlDb): Promise<Array<{ seq: string; id: string; aggregateId: string; eventType: string; payload: unknown; headers: Record<string, string>; published: boolean }>> {
  const t = outboxTables(db.schema);
  const { rows } = await db.pool.query(
    `SELECT seq::text AS seq, id::text AS id, aggregate_id, event_type, payload, headers, published
     FROM (SELECT seq, id, aggregate_id, event_type, payload, headers, false AS published FROM ${t.pendingEvents}
           UNION ALL
           SELECT seq, id, aggregate_id, event_type, payload, headers, true AS published FROM ${t.publishedEvents}) o
     ORDER BY o.seq`,
  );
  return rows.map((r) => ({
    seq: r.seq,
    id: r.id,
    aggregateId: r.aggregate_id,
    eventType: r.event_type,
    payload: r.payload,
    headers: r.headers,
    published: r.published,
  }));
}
