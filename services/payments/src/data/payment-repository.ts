import type { ClientBase } from 'pg';
import { assertSchemaName } from '@outbox-relay/outbox';

export interface PaymentOutcome {
  orderId: string;
  amount: number;
  currency: string;
  gateway: string;
  sourceEventId: string;
}

/** The worker's `payments` table, always written inside the transaction that changes the order. */
export class PaymentRepository {
  private readonly table: string;

  constructor(schema: string) {
    this.table = `"${assertSchemaName(schema, 'PAYMENTS_SCHEMA')}".payments`;
  }

  async recordSucceeded(tx: ClientBase, outcome: PaymentOutcome, chargeId: string): Promise<void> {
    await this.upsert(tx, outcome, 'SUCCEEDED', chargeId, null);
  }

  async recordFailed(tx: ClientBase, outcome: PaymentOutcome, reason: string): Promise<void> {
    await this.upsert(tx, outcome, 'FAILED', null, reason);
  }

  private async upsert(
    tx: ClientBase,
    o: PaymentOutcome,
    status: 'SUCCEEDED' | 'FAILED',
    chargeId: string | null,
    reason: string | null,
  ): Promise<void> {
    await tx.query(
      `INSERT INTO ${this.table} (order_id, status, amount, currency, gateway, charge_id, failure_reason, source_event_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status, charge_id = EXCLUDED.charge_id,
         failure_reason = EXCLUDED.failure_reason, source_event_id = EXCLUDED.source_event_id, updated_at = now()`,
      [o.orderId, status, o.amount.toFixed(2), o.currency, o.gateway, chargeId, reason, o.sourceEventId],
    );
  }
}
