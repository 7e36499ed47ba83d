import { createHash, randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { assertSchemaName } from '@outbox-relay/outbox';
import { PaymentGatewayError, type ChargeRequest, type ChargeResult, type PaymentGateway } from './gateway';

export interface FakeGatewaySettings {
  /** Probability (0-1) that a charge succeeds. */
  successRate: number;
  /** How long each call takes. */
  latencyMs: number;
  /** Forced-failure switch: while true every new charge is declined (earlier charges still replay). */
  failing: boolean;
}

/** One row of the fake provider's ledger. */
export interface FakeCharge {
  idempotencyKey: string;
  orderId: string;
  calls: number;
  chargeId: string | null;
}

/**
 * Whether attempt `attempt` for `key` succeeds at `successRate`: a hash of both mapped to [0, 1), so the same
 * order and attempt always get the same answer (reproducible demos and tests), while different orders spread.
 */
export function fakeOutcome(key: string, attempt: number, successRate: number): boolean {
  const digest = createHash('sha256').update(`${key}:${attempt}`).digest();
  return digest.readUInt32BE(0) / 2 ** 32 < successRate;
}

export function validateFakeSettings(patch: Partial<Record<keyof FakeGatewaySettings, unknown>>): Array<{ path: string; message: string }> {
  const issues: Array<{ path: string; message: string }> = [];
  const rate = patch.successRate;
  if (rate !== undefined && (typeof rate !== 'number' || !(rate >= 0 && rate <= 1))) issues.push({ path: 'successRate', message: 'must be a number from 0 to 1' });
  const latency = patch.latencyMs;
  if (latency !== undefined && (typeof latency !== 'number' || !Number.isInteger(latency) || latency < 0 || latency > 600_000)) {
    issues.push({ path: 'latencyMs', message: 'must be an integer from 0 to 600000' });
  }
  if (patch.failing !== undefined && typeof patch.failing !== 'boolean') issues.push({ path: 'failing', message: 'must be true or false' });
  return issues;
}

const sleep = (ms: number) => (ms > 0 ? new Promise<void>((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

/**
 * A deterministic stand-in for a payment provider, for tests and the demo. Its ledger (one row per idempotency
 * key: calls made, the charge if any) lives in Postgres, like a real provider's records live on its side, so a
 * worker killed mid-call and restarted meets the charge it already made. A successful charge is recorded before
 * the latency elapses: a crash during that wait is "charged, but the answer never arrived".
 */
export class FakePaymentGateway implements PaymentGateway {
  readonly name = 'fake';
  private readonly table: string;
  private current: FakeGatewaySettings;

  constructor(
    private readonly options: { pool: Pool; schema: string; settings: FakeGatewaySettings; logger?: Logger },
  ) {
    this.table = `"${assertSchemaName(options.schema, 'PAYMENTS_SCHEMA')}".fake_gateway_charges`;
    this.current = { ...options.settings };
  }

  settings(): FakeGatewaySettings {
    return { ...this.current };
  }

  /** Changes the behaviour at run time (tests, the demo's admin endpoint). Throws on invalid values. */
  configure(patch: Partial<FakeGatewaySettings>): FakeGatewaySettings {
    const issues = validateFakeSettings(patch);
    if (issues.length > 0) throw new RangeError(issues.map((i) => `${i.path} ${i.message}`).join('; '));
    const next = { ...this.current };
    if (patch.successRate !== undefined) next.successRate = patch.successRate;
    if (patch.latencyMs !== undefined) next.latencyMs = patch.latencyMs;
    if (patch.failing !== undefined) next.failing = patch.failing;
    this.current = next;
    this.options.logger?.warn({ fakeGateway: next }, 'fake gateway reconfigured');
    return this.settings();
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    const settings = this.current;
    const { rows } = await this.options.pool.query<{ calls: number; charge_id: string | null }>(
      `INSERT INTO ${this.table} (idempotency_key, order_id, amount, currency, calls) VALUES ($1, $2, $3, $4, 1)
       ON CONFLICT (idempotency_key) DO UPDATE SET calls = ${this.table}.calls + 1, last_call_at = now()
       RETURNING calls, charge_id`,
      [request.idempotencyKey, request.orderId, request.amount.toFixed(2), request.currency],
    );
    const attempt = rows[0]!.calls;
    const earlier = rows[0]!.charge_id;
    if (earlier) {
      await sleep(settings.latencyMs);
      return { chargeId: earlier, replayed: true, attempt };
    }
    if (settings.failing || !fakeOutcome(request.idempotencyKey, attempt, settings.successRate)) {
      await sleep(settings.latencyMs);
      const why = settings.failing ? 'forced failure (fake gateway is failing)' : `declined (success rate ${settings.successRate})`;
      throw new PaymentGatewayError(request.orderId, attempt, 'declined', why);
    }
    const charged = await this.options.pool.query<{ charge_id: string }>(
      `UPDATE ${this.table} SET charge_id = $2, charged_at = now() WHERE idempotency_key = $1 AND charge_id IS NULL RETURNING charge_id`,
      [request.idempotencyKey, randomUUID()],
    );
    // Zero rows: a concurrent call with the same key charged first; answer with its charge.
    const chargeId = charged.rows[0]?.charge_id ?? (await this.find(request.idempotencyKey))?.chargeId;
    if (!chargeId) throw new PaymentGatewayError(request.orderId, attempt, 'unavailable', 'charge vanished from the ledger');
    await sleep(settings.latencyMs);
    return { chargeId, replayed: charged.rows.length === 0, attempt };
  }

  async find(idempotencyKey: string): Promise<FakeCharge | null> {
    const { rows } = await this.options.pool.query<{ idempotency_key: string; order_id: string; calls: number; charge_id: string | null }>(
      `SELECT idempotency_key, order_id, calls, charge_id FROM ${this.table} WHERE idempotency_key = $1`,
      [idempotencyKey],
    );
    const row = rows[0];
    return row ? { idempotencyKey: row.idempotency_key, orderId: row.order_id, calls: row.calls, chargeId: row.charge_id } : null;
  }
}
