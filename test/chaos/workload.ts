/**
 * Writers that use the library as an application would (`Outbox.transaction` + `enqueue`), with the shapes that
 * make ordering hard: commits in another order than the rows' seqs, several events and several aggregates per
 * transaction, a transaction id taken before the aggregate's lock, deliberate rollbacks and transactions held open
 * for seconds. Each aggregate has a business row whose version the transaction bumps; that row lock orders the
 * aggregate's transactions, so version order is commit order and the stream must show versions 1..k.
 */
import { randomUUID } from 'node:crypto';
import { Outbox, type OutboxEventInput } from '@outbox-relay/outbox';
import { Pool, type PoolClient } from 'pg';
import { NAMES } from './cluster';
import type { EventLedger, TxShape } from './ledger';
import type { ChaosOptions } from './options';
import type { Random } from './random';

class DeliberateRollback extends Error {}

export interface WorkloadStats {
  transactions: Record<TxShape, number>;
  committed: number;
  rolledBackOnPurpose: number;
  failed: number;
  /** COMMIT sent, then the connection failed: the database says later whether it committed. */
  ambiguousCommits: number;
  /** A few error messages with their counts (the writers expect errors during outages). */
  errors: Map<string, number>;
  /**
   * Connections that ended while a writer had the client checked out (in a transaction). pg emits 'error' on such
   * a client and the pool does not listen on checked-out clients, so without the harness's own listener the
   * writer process would have crashed (issue 13, case 7).
   */
  checkedOutConnectionErrors: number;
}

export class Workload {
  readonly stats: WorkloadStats = {
    transactions: { single: 0, multi: 0, cross: 0, 'xid-first': 0, long: 0, burst: 0 },
    committed: 0,
    rolledBackOnPurpose: 0,
    failed: 0,
    ambiguousCommits: 0,
    errors: new Map(),
    checkedOutConnectionErrors: 0,
  };
  private readonly pool: Pool;
  private readonly outbox: Outbox;
  private running = false;
  private loops: Promise<void>[] = [];
  private longOpen = false;

  constructor(
    url: string,
    private readonly aggregates: readonly string[],
    private readonly ledger: EventLedger,
    private readonly options: ChaosOptions,
    private readonly random: Random,
  ) {
    this.pool = new Pool({ connectionString: url, max: options.writers + 2, connectionTimeoutMillis: 5000, application_name: 'chaos-writer' });
    // Idle connections die with every Postgres restart; the pool drops them and connects anew.
    this.pool.on('error', () => undefined);
    this.pool.on('connect', (client) => this.guard(client));
    this.outbox = new Outbox({ pool: this.pool, schema: NAMES.schema });
  }

  start(): void {
    this.running = true;
    for (let w = 0; w < this.options.writers; w++) this.loops.push(this.writer(w, this.random.fork(`writer-${w}`)));
  }

  /** Lets every writer finish its transaction in flight (a long one takes seconds), then closes the pool. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await Promise.all(this.loops);
    await this.outbox.close();
    await this.pool.end();
  }

  private async writer(index: number, rng: Random): Promise<void> {
    let failures = 0;
    while (this.running) {
      const ok = await this.transaction(index, rng);
      failures = ok ? 0 : failures + 1;
      // Drawn either way, so that outages do not shift the writer's sequence of shapes.
      const think = rng.between(...this.options.thinkMs);
      // After a failure the database is probably away: back off a little more each time, briefly (the first
      // commits after a recovery are what the resume figure waits for).
      const pause = failures > 0 ? Math.min(25 * 2 ** failures, 250) : think;
      await sleep(pause);
    }
  }

  /** One transaction of a random shape; false when it failed (not counting deliberate rollbacks). */
  private async transaction(writer: number, rng: Random): Promise<boolean> {
    const o = this.options;
    const long = rng.chance(o.longTransactionChance) && !this.longOpen;
    const roll = rng.next();
    const shape: TxShape = long ? 'long' : roll < 0.35 ? 'single' : roll < 0.6 ? 'multi' : roll < 0.85 ? 'cross' : 'xid-first';
    const aggregates = rng.sample(this.aggregates, shape === 'cross' ? rng.int(2, 3) : shape === 'long' ? rng.int(1, 2) : 1).sort();
    const eventsPer = aggregates.map(() => (shape === 'multi' ? rng.int(2, 4) : shape === 'cross' ? rng.int(1, 2) : 1));
    // One array per transaction exercises "events of one call keep their order"; one call per event, the rest.
    const oneCall = rng.chance(0.5);
    const rollback = rng.chance(0.1);
    // A pause before COMMIT while the aggregate is locked: transactions that drew later seqs commit first.
    const commitDelayMs = long ? rng.between(...o.longTransactionMs) : rng.chance(0.5) ? rng.between(1, 15) : 0;
    const xidPauseMs = shape === 'xid-first' ? rng.between(1, 10) : 0;

    const tx = this.ledger.newTx();
    const ids: string[] = [];
    let commitSent = false;
    if (long) this.longOpen = true;
    this.stats.transactions[shape]++;
    try {
      await this.outbox.transaction(async (client) => {
        if (shape === 'xid-first') {
          // The transaction id is assigned before the aggregate's lock: an xid-ordered relay would reorder here.
          await client.query('SELECT pg_current_xact_id()');
          await sleep(xidPauseMs);
        }
        const batch: OutboxEventInput[] = [];
        for (const [i, aggregate] of aggregates.entries()) {
          for (let e = 0; e < eventsPer[i]!; e++) {
            const { rows } = await client.query<{ version: number }>(
              `UPDATE ${NAMES.business}.accounts SET version = version + 1 WHERE id = $1 RETURNING version`,
              [aggregate],
            );
            const version = rows[0]!.version;
            const id = randomUUID();
            ids.push(id);
            this.ledger.add({ id, aggregate, version, tx, shape });
            const event: OutboxEventInput = { id, aggregateType: 'Account', aggregateId: aggregate, eventType: 'Changed', payload: { aggregate, version, tx, writer } };
            if (oneCall) batch.push(event);
            else await this.outbox.enqueue(client, event);
          }
        }
        if (batch.length > 0) await this.outbox.enqueue(client, batch);
        if (commitDelayMs > 0) await sleep(commitDelayMs);
        if (rollback) throw new DeliberateRollback('rolled back on purpose');
        commitSent = true;
      });
      this.ledger.settle(ids, 'committed');
      this.stats.committed++;
      return true;
    } catch (error) {
      if (error instanceof DeliberateRollback) {
        this.ledger.settle(ids, 'rolledBack');
        this.stats.rolledBackOnPurpose++;
        return true;
      }
      this.failed(error, ids, commitSent);
      return false;
    } finally {
      if (long) this.longOpen = false;
    }
  }

  /**
   * `count` events in one transaction over a few aggregates (`among`, default all), written with one
   * `UPDATE … SET version = version + n` and one `enqueue` per aggregate: a backlog that keeps relays publishing
   * and marking for a while (one publish in flight per aggregate), so that the fault which follows hits batches in
   * flight. Returns the ids once committed, none when it failed; never throws.
   */
  async burst(count: number, rng: Random, among: readonly string[] = this.aggregates): Promise<string[]> {
    const aggregates = rng.sample(among.length > 0 ? among : this.aggregates, 4).sort();
    const per = Math.max(1, Math.round(count / aggregates.length));
    const tx = this.ledger.newTx();
    const ids: string[] = [];
    let commitSent = false;
    this.stats.transactions.burst++;
    try {
      await this.outbox.transaction(async (client) => {
        for (const aggregate of aggregates) {
          const { rows } = await client.query<{ version: number }>(
            `UPDATE ${NAMES.business}.accounts SET version = version + $2 WHERE id = $1 RETURNING version`,
            [aggregate, per],
          );
          const last = rows[0]!.version;
          const events: OutboxEventInput[] = [];
          for (let version = last - per + 1; version <= last; version++) {
            const id = randomUUID();
            ids.push(id);
            this.ledger.add({ id, aggregate, version, tx, shape: 'burst' });
            events.push({ id, aggregateType: 'Account', aggregateId: aggregate, eventType: 'Changed', payload: { aggregate, version, tx, writer: -1 } });
          }
          await this.outbox.enqueue(client, events);
        }
        commitSent = true;
      });
      this.ledger.settle(ids, 'committed');
      this.stats.committed++;
      return ids;
    } catch (error) {
      this.failed(error, ids, commitSent);
      return [];
    }
  }

  /** A transaction that failed before COMMIT was sent rolled back; one that failed during COMMIT may have committed. */
  private failed(error: unknown, ids: readonly string[], commitSent: boolean): void {
    this.ledger.settle(ids, commitSent ? 'ambiguous' : 'rolledBack');
    if (commitSent) this.stats.ambiguousCommits++;
    this.stats.failed++;
    const message = String((error as Error)?.message ?? error).slice(0, 120);
    this.stats.errors.set(message, (this.stats.errors.get(message) ?? 0) + 1);
  }

  /**
   * pg emits 'error' on a client whose connection ends, even when a query was running (which also fails), and
   * the pool listens only while the client is idle in it. A writer's checked-out client (inside a transaction,
   * BEGIN included) would crash this process on every Postgres restart. So every client gets a listener of its own
   * from the moment it connects; the errors that only it heard are counted.
   */
  private guard(client: PoolClient): void {
    client.on('error', () => {
      if (client.listenerCount('error') === 1) this.stats.checkedOutConnectionErrors++;
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
