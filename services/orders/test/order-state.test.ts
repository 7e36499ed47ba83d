/**
 * The order lifecycle: the pure transition table, and `OrderRepository.transition` against real Postgres
 * (optimistic lock on `version`, illegal transitions refused, nothing written on any refusal).
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import {
  canTransition,
  IllegalTransitionError,
  ORDER_STATES,
  OrderNotFoundError,
  OrderRepository,
  StaleVersionError,
  type OrderState,
} from '@outbox-relay/orders';
import { createOrdersTestDb, type OrdersTestDb } from './support/orders-db';
import { waitFor } from '@outbox-relay/test-support';

describe('order lifecycle (pure)', () => {
  const allowed: Array<[OrderState, OrderState]> = [
    ['CREATED', 'PAYMENT_PENDING'],
    ['PAYMENT_PENDING', 'PAID'],
    ['PAYMENT_PENDING', 'FAILED'],
    ['FAILED', 'PAYMENT_PENDING'],
  ];

  it('allows exactly the lifecycle edges and nothing else', () => {
    for (const from of ORDER_STATES) {
      for (const to of ORDER_STATES) {
        const expected = allowed.some(([f, t]) => f === from && t === to);
        expect([from, to, canTransition(from, to)]).toEqual([from, to, expected]);
      }
    }
  });

  it('treats PAID as final', () => {
    expect(ORDER_STATES.filter((to) => canTransition('PAID', to))).toEqual([]);
  });
});

describe('OrderRepository.transition', () => {
  let db: OrdersTestDb;
  let repo: OrderRepository;

  beforeAll(async () => {
    db = await createOrdersTestDb('ostate');
    repo = new OrderRepository(db.ordersSchema);
  });
  afterAll(async () => {
    await db.drop();
  });

  async function newOrder() {
    return repo.insert(db.pool, { id: randomUUID(), customerId: randomUUID(), amount: 12.5, currency: 'EUR' });
  }

  async function inTransaction<T>(work: (tx: PoolClient) => Promise<T>): Promise<{ tx: PoolClient; result: Promise<T> }> {
    const tx = await db.pool.connect();
    await tx.query('BEGIN');
    return { tx, result: work(tx) };
  }

  it('applies a legal transition and bumps the version', async () => {
    const order = await newOrder();
    expect(order).toMatchObject({ state: 'CREATED', version: 1 });
    const pending = await repo.transition(db.pool, order.id, 1, 'PAYMENT_PENDING');
    expect(pending).toMatchObject({ id: order.id, state: 'PAYMENT_PENDING', version: 2 });
    expect(pending.updatedAt.getTime()).toBeGreaterThanOrEqual(order.updatedAt.getTime());
    const paid = await repo.transition(db.pool, order.id, 2, 'PAID');
    expect(paid).toMatchObject({ state: 'PAID', version: 3 });
    expect(await repo.findById(db.pool, order.id)).toMatchObject({ state: 'PAID', version: 3 });
  });

  it('rejects an illegal transition with its context and writes nothing', async () => {
    const order = await newOrder();
    const error = await repo.transition(db.pool, order.id, 1, 'PAID').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IllegalTransitionError);
    expect(error).toMatchObject({ name: 'IllegalTransitionError', orderId: order.id, from: 'CREATED', to: 'PAID' });
    expect(await repo.findById(db.pool, order.id)).toMatchObject({ state: 'CREATED', version: 1 });

    await repo.transition(db.pool, order.id, 1, 'PAYMENT_PENDING');
    await repo.transition(db.pool, order.id, 2, 'PAID');
    const fromPaid = await repo.transition(db.pool, order.id, 3, 'FAILED').catch((e: unknown) => e);
    expect(fromPaid).toMatchObject({ name: 'IllegalTransitionError', from: 'PAID', to: 'FAILED' });
    expect(await repo.findById(db.pool, order.id)).toMatchObject({ state: 'PAID', version: 3 });
  });

  it('lets a FAILED order be retried (FAILED → PAYMENT_PENDING → PAID)', async () => {
    const order = await newOrder();
    await repo.transition(db.pool, order.id, 1, 'PAYMENT_PENDING');
    await repo.transition(db.pool, order.id, 2, 'FAILED');
    await repo.transition(db.pool, order.id, 3, 'PAYMENT_PENDING');
    expect(await repo.transition(db.pool, order.id, 4, 'PAID')).toMatchObject({ state: 'PAID', version: 5 });
  });

  it('rejects a stale version with expected and actual versions, writing nothing', async () => {
    const order = await newOrder();
    await repo.transition(db.pool, order.id, 1, 'PAYMENT_PENDING');
    const error = await repo.transition(db.pool, order.id, 1, 'PAYMENT_PENDING').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StaleVersionError);
    expect(error).toMatchObject({ orderId: order.id, expectedVersion: 1, actualVersion: 2 });
    expect(await repo.findById(db.pool, order.id)).toMatchObject({ state: 'PAYMENT_PENDING', version: 2 });
  });

  it('rejects an unknown order with OrderNotFoundError', async () => {
    const id = randomUUID();
    await expect(repo.transition(db.pool, id, 1, 'PAYMENT_PENDING')).rejects.toMatchObject({ name: 'OrderNotFoundError', orderId: id });
    await expect(repo.transition(db.pool, id, 1, 'PAYMENT_PENDING')).rejects.toBeInstanceOf(OrderNotFoundError);
  });

  it('two transactions transitioning from the same version: the second waits for the first, then gets StaleVersionError', async () => {
    const order = await newOrder();
    let bPid: number | undefined;
    await repo.transition(db.pool, order.id, 1, 'PAYMENT_PENDING');
    // A's update holds the row lock, uncommitted. B reads version 2 too (A is not committed), so its checks pass
    // and its UPDATE blocks on A's lock; when A commits, B's UPDATE re-checks `version = 2` and matches nothing.
    const a = await inTransaction((tx) => repo.transition(tx, order.id, 2, 'PAID'));
    await expect(a.result).resolves.toMatchObject({ state: 'PAID', version: 3 });
    const b = await inTransaction(async (tx) => {
      const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      bPid = rows[0]!.pid;
      return repo.transition(tx, order.id, 2, 'FAILED');
    });
    const bOutcome = b.result.then(
      () => 'applied',
      (e: unknown) => e,
    );
    // B is blocked on A's row lock, not finished.
    await waitFor('B to wait on the row lock', async () => {
      if (bPid === undefined) return false;
      const { rows } = await db.pool.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`, [bPid]);
      return rows.length === 1;
    });
    await a.tx.query('COMMIT');
    a.tx.release();
    const error = await bOutcome;
    await b.tx.query('ROLLBACK');
    b.tx.release();
    expect(error).toBeInstanceOf(StaleVersionError);
    expect(error).toMatchObject({ orderId: order.id, expectedVersion: 2, actualVersion: 3 });
    expect(await repo.findById(db.pool, order.id)).toMatchObject({ state: 'PAID', version: 3 });
  });

  it('many concurrent transitions from one version: exactly one applies, the rest get StaleVersionError', async () => {
    const order = await newOrder();
    const attempts = await Promise.allSettled(
      Array.from({ length: 6 }, () => repo.transition(db.pool, order.id, 1, 'PAYMENT_PENDING')),
    );
    const applied = attempts.filter((a) => a.status === 'fulfilled');
    const rejected = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
    expect(applied).toHaveLength(1);
    expect(rejected).toHaveLength(5);
    for (const r of rejected) expect(r.reason).toBeInstanceOf(StaleVersionError);
    expect(await repo.findById(db.pool, order.id)).toMatchObject({ state: 'PAYMENT_PENDING', version: 2 });
  });
});
