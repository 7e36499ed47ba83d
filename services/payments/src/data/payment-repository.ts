import type { ClientBase } from 'pg';
import { assertSchemaName } from '@outbox-relay/outbox';

export interface PaymentOutcome {
  orderId: string;
  amount: number;
  currency: string;
  gateway: string;
  sourceEventId: string;
}

/**
 * What starting a payment found: `started` (new), `restarted` (it had FAILED: its dead letter was replayed),
 * `pending` (started before: a retry), `succeeded` (already paid: nothing to charge).
 */
export type PaymentStart = 'started' | 'restarted' | 'pending' | 'succeeded';

/** The worker's `payments` table: one row per order, written in the transactions that emit its events. */
export class PaymentRepository {
  private readonly table: string;

  constructor(schema: string) {
    this.table = `"${assertSchemaName(schema, 'PAYMENTS_SCHEMA')}".payments`;
  }

  /** Records the payment PENDING unless it is already pending or paid (a FAILED one starts again). */
  async start(tx: ClientBase, outcome: PaymentOutcome): Promise<PaymentStart> {
    const { rows } = await tx.query<{ inserted: boolean }>(
      `INSERT INTO ${this.table} AS p (order_id, status, amount, currency, gateway, source_event_id)
       VALUES ($1, 'PENDING', $2, $3, $4, $5)
       ON CONFLICT (order_id) DO UPDATE SET status = 'PENDING', failure_reason = NULL,
         source_event_id = EXCLUDED.source_event_id, updated_at = now()
         WHERE p.status = 'FAILED'
       RETURNING (xmax = 0) AS inserted`, // a row version an INSERT wrote has no updating transaction (xmax) yet
      [outcome.orderId, outcome.amount.toFixed(2), outcome.currency, outcome.gateway, outcome.sourceEventId],
    );
    if (rows[0]) return rows[0].inserted ? 'started' : 'restarted';
    const current = await tx.query<{ status: string }>(`SELECT status FROM ${this.table} WHERE order_id = $1`, [outcome.orderId]);
    return current.rows[0]?.status === 'SUCCEEDED' ? 'succeeded' : 'pending';
  }

  async recordSucceeded(tx: ClientBase, outcome: PaymentOutcome, chargeId: string): Promise<void> {
    await tx.query(
      `INSERT INTO ${this.table} (order_id, status, amount, currency, gateway, charge_id, source_event_id)
       VALUES ($1, 'SUCCEEDED', $2, $3, $4, $5, $6)
       ON CONFLICT (order_id) DO UPDATE SET status = 'SUCCEEDED', charge_id = EXCLUDED.charge_id, failure_reason = NULL,
         source_event_id = EXCLUDED.source_event_id, updated_at = now()`,
      [outcome.orderId, outcome.amount.toFixed(2), outcome.currency, outcome.gateway, chargeId, outcome.sourceEventId],
    );
  }

  /** Records the payment FAILED; false (nothing written) when it had already succeeded: money taken stays taken. */
  async recordFailed(tx: ClientBase, outcome: PaymentOutcome, reason: string): Promise<boolean> {
    const { rowCount } = await tx.query(
      `INSERT INTO ${this.table} AS p (order_id, status, amount, currency, gateway, failure_reason, source_event_id)
       VALUES ($1, 'FAILED', $2, $3, $4, $5, $6)
       ON CONFLICT (order_id) DO UPDATE SET status = 'FAILED', failure_reason = EXCLUDED.failure_reason,
         source_event_id = EXCLUDED.source_event_id, updated_at = now()
         WHERE p.status <> 'SUCCEEDED'`,
      [outcome.orderId, outcome.amount.toFixed(2), outcome.currency, outcome.gateway, reason, outcome.sourceEventId],
    );
    return rowCount === 1;
  }
}
