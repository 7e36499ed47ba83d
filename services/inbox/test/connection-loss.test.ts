/**
 * The inbox transaction's Postgres session dies while a handler runs (a restart, a failover, an idle-session
 * timeout): the process must live on, the failure must count as the database's (redelivered, no retry used up,
 * never dead-lettered for it), and nothing of the attempt may remain. Each case runs in a child process (see
 * child-scenario.ts), because the failure being guarded against is an 'error' event that kills the process.
 */
import { randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Client, Pool, type PoolClient } from 'pg';
import { Inbox, startInboxConsumer, type InboxConsumerStats, type InboxEvent } from '@outbox-relay/inbox';
import { inTestRunner, runScenario, settle, type ScenarioRun, type Settled, TEST_DATABASE_URL, TEST_NATS_URL, createTestStream, type TestStream, quietLogger } from '@outbox-relay/test-support';
import { createInboxTestDb, testEvent, type InboxTestDb } from './support/inbox-db';
import { createDurable, publishEvent } from './support/jetstream';

/** Where the session dies: while the handler awaits something that is not a query, or during its query. */
type Moment = 'idle' | 'query';

/**
 * Kills the session of `tx` at `moment`. Idle: another session terminates it while the handler awaits something
 * else (here the connection's end, so the death has fully arrived), then the handler writes again.
 * Query: the statement terminates its own session, so the death certainly comes in the middle of it.
 */
async function killSession(tx: PoolClient, moment: Moment, killer: Client, schema: string): Promise<void> {
  if (moment === 'query') {
    await tx.query('SELECT pg_terminate_backend(pg_backend_pid()), pg_sleep(30)');
    return;
  }
  const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const ended = new Promise((resolve) => tx.once('end', resolve));
  await killer.query('SELECT pg_terminate_backend($1, 10000)', [rows[0]!.pid]);
  await ended;
  await tx.query(`INSERT INTO "${schema}".effects (event_id, note) VALUES ('after', 'after the death')`);
}

interface HandleOnceInput {
  schema: string;
  moment: Moment;
  eventId: string;
}

/** Child: `handleOnce` whose session dies, then the same event again on the same pool. */
export async function handleOnceKilled(input: HandleOnceInput): Promise<{ first: Settled<unknown>; again: Settled<unknown>; totalAfterFirst: number }> {
  const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
  const killer = new Client({ connectionString: TEST_DATABASE_URL });
  await killer.connect();
  const inbox = new Inbox({ pool, schema: input.schema, consumer: 'c' });
  const event = testEvent(input.eventId);
  const effect = (tx: PoolClient, e: InboxEvent, note: string) =>
    tx.query(`INSERT INTO "${input.schema}".effects (event_id, note) VALUES ($1, $2)`, [e.eventId, note]);
  const first = await settle(
    inbox.handleOnce(event, async (tx, e) => {
      await effect(tx, e, 'first attempt');
      await killSession(tx, input.moment, killer, input.schema);
      return 'handled';
    }),
  );
  const totalAfterFirst = pool.totalCount;
  const again = await settle(
    inbox.handleOnce(event, async (tx, e) => {
      await effect(tx, e, 'second attempt');
      return 'handled';
    }),
  );
  await killer.end();
  await pool.end();
  return { first, again, totalAfterFirst };
}

interface ConsumerInput {
  schema: string;
  stream: string;
  durable: string;
}

/** Child: the consumer loop, whose first delivery's session dies while the handler awaits something else. */
export async function consumerKilled(input: ConsumerInput): Promise<{ stats: InboxConsumerStats; notes: string[] }> {
  const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
  const killer = new Client({ connectionString: TEST_DATABASE_URL });
  await killer.connect();
  const nc = await connect({ servers: TEST_NATS_URL });
  let committed!: () => void;
  const processed = new Promise<void>((resolve) => (committed = resolve));
  const inbox = new Inbox({ pool, schema: input.schema, consumer: input.durable, afterCommit: () => committed() });
  const notes: string[] = [];
  const consumer = await startInboxConsumer({
    inbox,
    consumer: await jetstream(nc).consumers.get(input.stream, input.durable),
    maxRetries: 0, // one handler failure would dead-letter the event: the death must not count as one
    backoff: { minMs: 10, maxMs: 10 },
    logger: quietLogger,
    handler: async (tx, e) => {
      notes.push(`delivery ${e.deliveryCount}`);
      if (e.deliveryCount === 1) await killSession(tx, 'idle', killer, input.schema);
      await tx.query(`INSERT INTO "${input.schema}".effects (event_id, note) VALUES ($1, 'paid')`, [e.eventId]);
    },
  });
  await processed;
  await consumer.stop();
  await nc.close();
  await killer.end();
  await pool.end();
  return { stats: consumer.stats(), notes };
}

inTestRunner(() => {
  let db: InboxTestDb;
  beforeEach(async () => {
    db = await createInboxTestDb('inboxloss');
  });
  afterEach(async () => {
    await db.drop();
  });

  /** The child ended on its own with code 0 after printing its result: no crash, nothing left running. */
  function survived<R>(run: ScenarioRun<R>): R {
    expect({ code: run.code, signal: run.signal, timedOut: run.timedOut, stderr: run.stderr }).toEqual({ code: 0, signal: null, timedOut: false, stderr: '' });
    expect(run.result).toBeDefined();
    return run.result!;
  }

  const failures = async () => (await db.pool.query(`SELECT event_id FROM "${db.schema}".inbox_failures`)).rows;
  const inboxRows = async () => (await db.pool.query(`SELECT event_id, outcome FROM "${db.schema}".inbox`)).rows;

  describe.each<Moment>(['idle', 'query'])('Inbox.handleOnce whose session dies (%s)', (moment) => {
    it('rejects with the connection error, not as a handler failure; nothing written; the retry processes it', async () => {
      const eventId = randomUUID();
      const result = survived(await runScenario<HandleOnceInput, Awaited<ReturnType<typeof handleOnceKilled>>>(__filename, 'handleOnceKilled', { schema: db.schema, moment, eventId }));
      // The database's failure as it is (57P01: terminated), not a HandlerFailedError that would use up a retry.
      expect(result.first).toEqual({ status: 'rejected', error: { name: 'error', code: '57P01', message: 'terminating connection due to administrator command' } });
      expect(result.totalAfterFirst).toBe(0);
      expect(result.again).toEqual({ status: 'fulfilled', value: { status: 'processed', value: 'handled' } });
      expect(await db.effects()).toEqual([{ event_id: eventId, note: 'second attempt' }]);
      expect(await inboxRows()).toEqual([{ event_id: eventId, outcome: 'processed' }]);
      expect(await failures()).toEqual([]);
    });
  });

  describe('inbox consumer whose session dies during a handler', () => {
    let ns: TestStream;
    beforeEach(async () => {
      ns = await createTestStream('inboxloss');
    });
    afterEach(async () => {
      await ns.drop();
    });

    it('asks for a redelivery without counting a handler failure, then processes the event once', async () => {
      await createDurable(ns.nc, ns.stream, ns.subjectPrefix, 'loss');
      const { eventId } = await publishEvent(ns.nc, ns.subjectPrefix, { aggregateId: 'o-1' });
      const result = survived(await runScenario<ConsumerInput, Awaited<ReturnType<typeof consumerKilled>>>(__filename, 'consumerKilled', { schema: db.schema, stream: ns.stream, durable: 'loss' }));
      expect(result.notes).toEqual(['delivery 1', 'delivery 2']);
      expect(result.stats).toEqual({ processed: 1, duplicates: 0, failed: 0, retried: 0, deadLettered: 0, infrastructureErrors: 1 });
      expect(await db.effects()).toEqual([{ event_id: eventId, note: 'paid' }]);
      expect(await inboxRows()).toEqual([{ event_id: eventId, outcome: 'processed' }]);
      expect(await failures()).toEqual([]);
    });
  });
});
