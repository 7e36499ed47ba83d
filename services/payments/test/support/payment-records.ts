import type { Pool } from 'pg';
import type { StoredMessage } from '@outbox-relay/test-support';

/** The worker's `payments` row of one order: what the tests check of the payment's state. */
export interface PaymentRow {
  status: 'PENDING' | 'SUCCEEDED' | 'FAILED';
  charge_id: string | null;
  failure_reason: string | null;
  source_event_id: string;
}

/** One event the worker enqueued for an order (aggregate `Payment`, aggregate id = the order id). */
export interface PaymentEvent {
  eventType: string;
  payload: Record<string, unknown>;
  headers: Record<string, string>;
}

export async function paymentRow(pool: Pool, paymentsSchema: string, orderId: string): Promise<PaymentRow | undefined> {
  const { rows } = await pool.query<PaymentRow>(
    `SELECT status, charge_id, failure_reason, source_event_id FROM "${paymentsSchema}".payments WHERE order_id = $1`,
    [orderId],
  );
  return rows[0];
}

/**
 * The outbox rows (published or not) of the order's Payment aggregate, in seq order, which for one aggregate is
 * commit order: the order its events are published in.
 */
export async function paymentEvents(pool: Pool, outboxSchema: string, orderId: string): Promise<PaymentEvent[]> {
  const { rows } = await pool.query<PaymentEvent>(
    `SELECT event_type AS "eventType", payload, headers FROM "${outboxSchema}".outbox
      WHERE aggregate_type = 'Payment' AND aggregate_id = $1 ORDER BY seq`,
    [orderId],
  );
  return rows;
}

/** The messages of one aggregate in a stream read back with readStream, in stream order. */
export function messagesOf(messages: StoredMessage[], aggregateType: string, aggregateId: string): StoredMessage[] {
  return messages.filter((m) => m.headers['Outbox-Aggregate-Type'] === aggregateType && m.aggregateId === aggregateId);
}
