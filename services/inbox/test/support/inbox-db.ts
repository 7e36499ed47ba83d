import { Pool } from 'pg';
import { migrateInbox, type InboxEvent } from '@outbox-relay/inbox';
import { TEST_DATABASE_URL, uniqueName } from '@outbox-relay/test-support';

export interface InboxTestDb {
  pool: Pool;
  schema: string;
  /** Rows of the test's side-effect table, in insertion order. */
  effects(): Promise<Array<{ event_id: string; note: string }>>;
  drop(): Promise<void>;
}

/** A private schema with the inbox tables and an `effects` table standing for a handler's business writes. */
export async function createInboxTestDb(prefix: string): Promise<InboxTestDb> {
  const schema = uniqueName(prefix);
  const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 10 });
  await migrateInbox({ pool, schema });
  await pool.query(`CREATE TABLE "${schema}".effects (id serial PRIMARY KEY, event_id text NOT NULL, note text NOT NULL)`);
  return {
    pool,
    schema,
    effects: async () => (await pool.query(`SELECT event_id, note FROM "${schema}".effects ORDER BY id`)).rows,
    async drop() {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}

/** An event as `inboxEventFromMsg` would produce it, for tests that do not need NATS. */
export function testEvent(eventId: string, overrides: Partial<InboxEvent> = {}): InboxEvent {
  return {
    eventId,
    eventType: 'OrderCreated',
    subject: 'test.Order.OrderCreated',
    streamSeq: 1,
    deliveryCount: 1,
    aggregateType: 'Order',
    aggregateId: 'o-1',
    partition: 0,
    seq: 1,
    payload: { orderId: 'o-1' },
    headers: { 'Outbox-Event-Id': eventId },
    replayOf: undefined,
    correlationId: undefined,
    traceparent: undefined,
    ...overrides,
  };
}
