import type { ClientBase, Pool } from 'pg';
import { assertSchemaName } from '@outbox-relay/outbox';
import type { Order, OrderState } from '../domain/order';
import { assertTransition, OrderNotFoundError, StaleVersionError } from '../domain/order-state';

/** Anything that runs a query: the pool, or a client inside an open transaction. */
type Queryable = Pick<Pool | ClientBase, 'query'>;

interface OrderRow {
  id: string;
  customer_id: string;
  amount: string;
  currency: string;
  state: OrderState;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, customer_id, amount::text AS amount, currency, state, version, created_at, updated_at';

function toOrder(row: OrderRow): Order {
  return {
    id: row.id,
    customerId: row.customer_id,
    amount: Number(row.amount),
    currency: row.currency,
    state: row.state,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface NewOrder {
  id: string;
  customerId: string;
  amount: number;
  currency: string;
  /**
   * Creation time; default the database's now(). Chosen by the caller when the OrderCreated event is built
   * before the row exists (written in the same statement) and must carry it.
   */
  createdAt?: Date;
}

export interface IdempotencyRecord {
  requestHash: string;
  orderId: string;
}

/**
 * SQL for orders and idempotency keys in one schema. The schema name is checked against a strict identifier
 * pattern once, then interpolated quoted (identifiers cannot be bound as parameters).
 */
export class OrderRepository {
  readonly schema: string;
  private readonly orders: string;
  private readonly keys: string;

  constructor(schema: string) {
    this.schema = assertSchemaName(schema, 'ORDERS_SCHEMA');
    this.orders = `"${this.schema}".orders`;
    this.keys = `"${this.schema}".idempotency_keys`;
  }

  /**
   * The INSERT of new orders (RETURNING their rows, or only their ids) as one statement, for any number of
   * orders: run it alone, or with their events through the outbox's atomic write. One text for every count, so
   * it is prepared once.
   */
  insertStatement(orders: readonly NewOrder[], returning: 'rows' | 'ids' = 'rows'): { text: string; values: unknown[] } {
    return {
      text: `INSERT INTO ${this.orders} (id, customer_id, amount, currency, created_at, updated_at)
             SELECT o.id, o.customer_id, o.amount, o.currency, coalesce(o.created_at, now()), coalesce(o.created_at, now())
             FROM unnest($1::uuid[], $2::uuid[], $3::numeric[], $4::text[], $5::timestamptz[])
                  AS o(id, customer_id, amount, currency, created_at)
             RETURNING ${returning === 'rows' ? COLUMNS : 'id'}`,
      values: [
        orders.map((o) => o.id),
        orders.map((o) => o.customerId),
        orders.map((o) => o.amount.toFixed(2)),
        orders.map((o) => o.currency),
        orders.map((o) => o.createdAt ?? null),
      ],
    };
  }

  async insert(db: Queryable, order: NewOrder): Promise<Order> {
    const { rows } = await db.query<OrderRow>(this.insertStatement([order]));
    return toOrder(rows[0]!);
  }

  /** Maps a row returned by `insertStatement` (or any statement returning the order's columns). */
  static toOrder(row: unknown): Order {
    return toOrder(row as OrderRow);
  }

  async findById(db: Queryable, id: string): Promise<Order | null> {
    const { rows } = await db.query<OrderRow>(`SELECT ${COLUMNS} FROM ${this.orders} WHERE id = $1`, [id]);
    return rows[0] ? toOrder(rows[0]) : null;
  }

  /**
   * Moves the order to `to` if it is still at `expectedVersion` (optimistic lock) and the lifecycle allows it,
   * bumping the version. Throws, writing nothing: `OrderNotFoundError`; `StaleVersionError` when the order is at
   * another version, including when a concurrent writer changes it between this read and the update (the UPDATE
   * waits for that writer's row lock, then re-checks its WHERE and matches no row); `IllegalTransitionError`.
   */
  async transition(db: Queryable, orderId: string, expectedVersion: number, to: OrderState): Promise<Order> {
    const current = await this.findById(db, orderId);
    if (!current) throw new OrderNotFoundError(orderId);
    if (current.version !== expectedVersion) throw new StaleVersionError(orderId, expectedVersion, current.version);
    assertTransition(orderId, current.state, to);
    const { rows } = await db.query<OrderRow>(
      `UPDATE ${this.orders} SET state = $4, version = version + 1, updated_at = now()
       WHERE id = $1 AND version = $2 AND state = $3 RETURNING ${COLUMNS}`,
      [orderId, expectedVersion, current.state, to],
    );
    const row = rows[0];
    if (!row) {
      const now = await this.findById(db, orderId);
      throw new StaleVersionError(orderId, expectedVersion, now?.version);
    }
    return toOrder(row);
  }

  /**
   * Claims `key` for `orderId` inside the caller's transaction. Returns null when the claim succeeded; otherwise
   * the record of whoever holds the key. If another open transaction holds it, this waits for that one to end:
   * its commit makes it the holder, its rollback lets this claim succeed.
   */
  async claimIdempotencyKey(
    tx: ClientBase,
    key: string,
    requestHash: string,
    orderId: string,
  ): Promise<IdempotencyRecord | null> {
    const claimed = await tx.query(
      `INSERT INTO ${this.keys} (key, request_hash, order_id) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING`,
      [key, requestHash, orderId],
    );
    if (claimed.rowCount === 1) return null;
    // READ COMMITTED: this new statement sees the row the conflicting transaction committed.
    const { rows } = await tx.query<{ request_hash: string; order_id: string }>(
      `SELECT request_hash, order_id FROM ${this.keys} WHERE key = $1`,
      [key],
    );
    const row = rows[0];
    if (!row) throw new Error(`idempotency key "${key}" conflicted but cannot be read back`);
    return { requestHash: row.request_hash, orderId: row.order_id };
  }
}
