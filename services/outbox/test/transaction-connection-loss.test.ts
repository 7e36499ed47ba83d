/**
 * A writer's Postgres session dies while its transaction is open: a restart, a failover or an idle-session
 * timeout does that to every open session. The transaction must reject with the connection error, its client
 * must leave the pool, nothing may be written, and the process must live on. pg reports such a death as an
 * 'error' event on the client, which kills a process when nobody listens, so each case runs in a child process
 * (see child-scenario.ts) whose exit code is asserted. The child's pool has no 'error' listener of its own, like
 * the README's example.
 */
import { Client, Pool, type PoolClient } from 'pg';
import { Outbox, withTransaction } from '@outbox-relay/outbox';
import { inTestRunner, runScenario, settle, type ScenarioRun, type Settled, createTestSchema, type TestSchema, TEST_DATABASE_URL } from '@outbox-relay/test-support';

type Entry = 'Outbox.transaction' | 'withTransaction';
/** Where the session dies: while `work` awaits something that is not a query; during a query; during COMMIT. */
type Moment = 'idle' | 'query' | 'commit';
/** What `work` does after an idle-time death: query again (and let the error propagate), or just return. */
type After = 'query' | 'return';

interface Input {
  schema: string;
  entry: Entry;
  moment: Moment;
  after?: After;
}

interface Result {
  outcome: Settled<string>;
  /** pool.totalCount while `work` was still running after the death (idle case), and once the transaction settled. */
  totalDuringWork: number | null;
  totalAfter: number;
  /** What `work`'s query after the death gave (idle case, after = query). */
  queryAfterDeath: Settled<unknown> | null;
  /** Rows of the killed transaction that exist now (business row, outbox event). */
  written: { orders: number; events: number };
  /** A transaction started afterwards on the same pool. */
  next: Settled<string>;
  /** 'error' listeners on that transaction's client once it is back in the pool (1: the pool's own). */
  nextListeners: number;
}

const AGGREGATE = 'o-killed';

/** The session's process id, for pg_terminate_backend. */
async function backendPid(tx: PoolClient): Promise<number> {
  const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return rows[0]!.pid;
}

/** Child: one transaction whose backend is terminated at `moment`, then what is left of it. */
export async function killedTransaction(input: Input): Promise<Result> {
  const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
  const outbox = new Outbox({ pool, schema: input.schema });
  const killer = new Client({ connectionString: TEST_DATABASE_URL });
  await killer.connect();
  const run = <T>(work: (tx: PoolClient) => Promise<T>) =>
    input.entry === 'Outbox.transaction' ? outbox.transaction(work) : withTransaction(pool, work);

  let totalDuringWork: number | null = null;
  let queryAfterDeath: Settled<unknown> | null = null;
  const outcome = await settle(
    run(async (tx) => {
      await tx.query(`INSERT INTO "${input.schema}".orders (id) VALUES ($1)`, [AGGREGATE]);
      await outbox.enqueue(tx, { aggregateType: 'Order', aggregateId: AGGREGATE, eventType: 'OrderCreated', payload: {} });
      if (input.moment === 'query') {
        // Terminated by itself, in the middle of this statement: the death is certain to come during a query.
        await tx.query('SELECT pg_terminate_backend(pg_backend_pid()), pg_sleep(30)');
        return 'query survived';
      }
      if (input.moment === 'commit') {
        // The deferred trigger terminates the session while COMMIT runs it (before the commit record).
        await tx.query(`INSERT INTO "${input.schema}".commit_bomb VALUES (1)`);
        return 'work done';
      }
      // Idle in transaction: `work` awaits something that is not a query (here: the connection's end, so the
      // death has fully arrived when it goes on) while another session terminates this one.
      const pid = await backendPid(tx);
      const ended = new Promise((resolve) => tx.once('end', resolve));
      await killer.query('SELECT pg_terminate_backend($1, 10000)', [pid]);
      await ended;
      totalDuringWork = pool.totalCount;
      if (input.after === 'query') {
        // Ordinary code: the query's error propagates out of `work`.
        const query = tx.query('SELECT 1');
        queryAfterDeath = await settle(query);
        await query;
      }
      return 'work done';
    }),
  );
  const totalAfter = pool.totalCount;
  let nextClient: PoolClient | undefined;
  const next = await settle(
    run(async (tx) => {
      nextClient = tx;
      await tx.query(`INSERT INTO "${input.schema}".orders (id) VALUES ($1)`, [`next-${input.entry}-${input.moment}-${input.after ?? ''}`]);
      return 'committed';
    }),
  );
  const nextListeners = nextClient?.listenerCount('error') ?? -1;
  const count = async (sql: string) => (await killer.query<{ n: number }>(sql, [AGGREGATE])).rows[0]!.n;
  const written = {
    orders: await count(`SELECT count(*)::int AS n FROM "${input.schema}".orders WHERE id = $1`),
    events: await count(`SELECT count(*)::int AS n FROM "${input.schema}".outbox WHERE aggregate_id = $1`),
  };
  await killer.end();
  await outbox.close();
  await pool.end();
  return { outcome, totalDuringWork, totalAfter, queryAfterDeath, written, next, nextListeners };
}

inTestRunner(() => {
  let db: TestSchema;
  beforeAll(async () => {
    db = await createTestSchema('txloss');
    await db.pool.query(`CREATE TABLE "${db.schema}".orders (id text PRIMARY KEY)`);
    // A row in commit_bomb makes COMMIT terminate its own session (deferred constraint triggers run in COMMIT).
    await db.pool.query(`
      CREATE TABLE "${db.schema}".commit_bomb (id int);
      CREATE FUNCTION "${db.schema}".terminate_self() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_terminate_backend(pg_backend_pid());
        PERFORM pg_sleep(30);
        RETURN NULL;
      END $$;
      CREATE CONSTRAINT TRIGGER terminate_at_commit AFTER INSERT ON "${db.schema}".commit_bomb
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "${db.schema}".terminate_self();`);
  });
  afterAll(async () => {
    await db.drop();
  });

  async function kill(entry: Entry, moment: Moment, after?: After): Promise<Result> {
    const run: ScenarioRun<Result> = await runScenario(__filename, 'killedTransaction', { schema: db.schema, entry, moment, after });
    // The process survived: it ended on its own with code 0, after printing its result.
    expect({ code: run.code, signal: run.signal, timedOut: run.timedOut, stderr: run.stderr }).toEqual({ code: 0, signal: null, timedOut: false, stderr: '' });
    expect(run.result).toBeDefined();
    const result = run.result!;
    // Nothing of the killed transaction was written; the pool lost that client and serves the next transaction.
    expect(result.written).toEqual({ orders: 0, events: 0 });
    expect(result.totalAfter).toBe(0);
    expect(result.next).toEqual({ status: 'fulfilled', value: 'committed' });
    expect(result.nextListeners).toBe(1);
    return result;
  }

  /** The rejection carries the connection error pg reported, as it is (callers test its code / message). */
  const terminated = { status: 'rejected', error: { name: 'error', code: '57P01', message: 'terminating connection due to administrator command' } };

  describe.each<Entry>(['Outbox.transaction', 'withTransaction'])('%s whose session is terminated', (entry) => {
    it('while idle: rejects with the connection error at its next query, client discarded at once, process alive', async () => {
      const result = await kill(entry, 'idle', 'query');
      expect(result.outcome).toEqual(terminated);
      // The dead client left the pool while `work` was still running, and `work`'s next query failed at once.
      expect(result.totalDuringWork).toBe(0);
      expect(result.queryAfterDeath).toMatchObject({ status: 'rejected', error: { message: expect.stringMatching(/not queryable/) } });
    });

    it('while idle, and `work` returns without another query: rejects all the same, never commits', async () => {
      const result = await kill(entry, 'idle', 'return');
      expect(result.outcome).toEqual(terminated);
      expect(result.totalDuringWork).toBe(0);
    });

    it('during a query: rejects with the connection error', async () => {
      expect((await kill(entry, 'query')).outcome).toEqual(terminated);
    });

    it('during COMMIT: rejects with the connection error, nothing committed', async () => {
      expect((await kill(entry, 'commit')).outcome).toEqual(terminated);
    });
  });
});
