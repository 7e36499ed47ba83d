// What the payment demo does with SQL where outboxctl is not built (DEMO_WITHOUT_OUTBOXCTL=1): the replays by the
// rules outboxctl documents, and the fake gateway's record of a charge.
import { Client } from 'pg';
import { inboxTables } from '@outbox-relay/inbox';
import { enqueue, outboxTables, type EventHeaders, type JsonValue } from '@outbox-relay/outbox';
import { DemoError } from './demo-kit';

export interface DemoSchemas {
  outbox: string;
  orders: string;
  inbox: string;
  payments: string;
}

export async function withDatabase<T>(databaseUrl: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

interface StoredEvent {
  aggregate_type: string;
  aggregate_id: string;
  event_type: string;
  payload: JsonValue;
  headers: EventHeaders;
}

/** Fallback for `outboxctl replay --aggregate`: a new outbox row per published event, replayOf = its id. */
export async function replayAggregateByHand(databaseUrl: string, outboxSchema: string, orderId: string): Promise<number> {
  const t = outboxTables(outboxSchema);
  return withDatabase(databaseUrl, async (client) => {
    await client.query('BEGIN');
    const { rows } = await client.query<StoredEvent & { id: string }>(
      `SELECT id::text, aggregate_type, aggregate_id, event_type, payload, headers FROM ${t.publishedEvents}
       WHERE aggregate_id = $1 AND NOT (headers ? 'replayOf') ORDER BY seq`,
      [orderId],
    );
    for (const r of rows) {
      await enqueue(client, { aggregateType: r.aggregate_type, aggregateId: r.aggregate_id, eventType: r.event_type, payload: r.payload, headers: { ...r.headers, replayOf: r.id } }, { schema: outboxSchema });
    }
    await client.query('COMMIT');
    return rows.length;
  });
}

/** Fallback for `outboxctl dlq replay c<id>`: the documented rule, in one transaction. */
export async function replayConsumerDeadLetterByHand(databaseUrl: string, schemas: DemoSchemas, id: string): Promise<void> {
  const t = inboxTables(schemas.inbox);
  await withDatabase(databaseUrl, async (client) => {
    await client.query('BEGIN');
    const { rows } = await client.query<StoredEvent & { consumer: string; event_id: string }>(
      `UPDATE ${t.deadLetters} SET resolved_at = now(), resolution = 'replayed' WHERE id = $1 AND resolved_at IS NULL
       RETURNING consumer, event_id, event_type, aggregate_type, aggregate_id, payload, headers`,
      [id],
    );
    const dl = rows[0];
    if (!dl) throw new DemoError(`no open dead letter ${id}`);
    await client.query(`DELETE FROM ${t.inbox} WHERE consumer = $1 AND event_id = $2`, [dl.consumer, dl.event_id]);
    await client.query(`DELETE FROM ${t.failures} WHERE consumer = $1 AND event_id = $2`, [dl.consumer, dl.event_id]);
    const headers: EventHeaders = { replayOf: dl.event_id };
    if (dl.headers['Outbox-Correlation-Id']) headers.correlationId = dl.headers['Outbox-Correlation-Id'];
    await enqueue(client, { aggregateType: dl.aggregate_type, aggregateId: dl.aggregate_id, eventType: dl.event_type, payload: dl.payload, headers }, { schema: schemas.outbox });
    await client.query('COMMIT');
  });
}

/** The fake gateway's row for one idempotency key (the payments package exports no name for its table). */
export async function gatewayCharge(databaseUrl: string, paymentsSchema: string, key: string): Promise<{ calls: number; charge_id: string } | undefined> {
  return withDatabase(databaseUrl, async (c) =>
    (await c.query<{ calls: number; charge_id: string }>(`SELECT calls, charge_id FROM "${paymentsSchema}".fake_gateway_charges WHERE idempotency_key = $1`, [key])).rows[0],
  );
}
