import { outboxTables } from '@outbox-relay/outbox';
import { asLeader, createCtlDb, ctl, enqueueEvents, inboxEvent, makeConsumerDeadLetter, makeRelayDeadLetter, outboxRows, publishPending, type CtlDb } from './support';
import { uniqueName } from '@outbox-relay/test-support';

/** The arguments of the `outboxctl ...` command a message tells the user to run. */
function suggestedCommand(message: string): string[] {
  const command = /run `outboxctl ([^`]+)`/.exec(message)?.[1];
  if (command === undefined) throw new Error(`no outboxctl command suggested in: ${message}`);
  return command.split(' ');
}

let db: CtlDb;
beforeAll(async () => {
  db = await createCtlDb('ctl_status', { partitions: 2 });
});
afterAll(async () => {
  await db.drop();
});

describe('outboxctl status', () => {
  it('reports leases, backlog, progress and open dead letters per partition (--json and table)', async () => {
    const t = outboxTables(db.schema);
    const written = await enqueueEvents(
      db,
      Array.from({ length: 10 }, (_, n) => ({ aggregateType: 'Order', aggregateId: `agg-${n}`, eventType: 'OrderCreated', payload: { n } })),
    );
    const inPartition = (p: number) => written.filter((w) => w.partition === p);
    expect(inPartition(0).length).toBeGreaterThan(1);
    expect(inPartition(1).length).toBeGreaterThan(0);
    // Partition 0: everything published but the event that becomes a relay dead letter. Partition 1: all pending.
    const deadLettered = inPartition(0)[0]!;
    await makeRelayDeadLetter(db, deadLettered.id);
    await publishPending(db, 0);
    const lastPublished = inPartition(0)[inPartition(0).length - 1]!;
    await db.pool.query(
      `UPDATE ${t.partitions} SET holder = 'relay-a', epoch = 12, expires_at = now() + interval '30 seconds' WHERE partition = 0`,
    );
    await db.pool.query(
      `UPDATE ${t.partitions} SET holder = 'relay-b', epoch = 7, expires_at = now() - interval '1 second' WHERE partition = 1`,
    );
    await db.pool.query(`UPDATE ${t.outbox} SET created_at = now() - interval '90 seconds' WHERE partition = 1`);
    await makeConsumerDeadLetter(db, 'payments', inboxEvent({ eventId: 'e-1' }));
    await makeConsumerDeadLetter(db, 'payments', inboxEvent({ eventId: 'e-2' }));
    await makeConsumerDeadLetter(db, 'audit', inboxEvent({ eventId: 'e-1' }));

    const { code, stdout, stderr } = await ctl(['status', '--json'], db.env);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const status = JSON.parse(stdout);
    expect(Object.keys(status).sort()).toEqual(['at', 'inboxSchema', 'openDeadLetters', 'partitions', 'schema']);
    expect(status.schema).toBe(db.schema);
    expect(status.inboxSchema).toBe(db.inboxSchema);
    expect(status.partitions).toHaveLength(2);
    const [p0, p1] = status.partitions;
    expect(p0).toEqual({
      partition: 0,
      holder: 'relay-a',
      epoch: 12,
      leaseExpiresAt: expect.any(String),
      leaseExpired: false,
      stepDownPending: false,
      pending: 0,
      oldestPendingAgeMs: null,
      lastPublished: { id: lastPublished.id, seq: lastPublished.seq, at: expect.any(String) },
      publishedTotal: inPartition(0).length - 1,
    });
    expect(Date.parse(p0.leaseExpiresAt)).toBeGreaterThan(Date.parse(status.at));
    expect(p1).toMatchObject({
      partition: 1,
      holder: 'relay-b',
      epoch: 7,
      leaseExpired: true,
      pending: inPartition(1).length,
      lastPublished: null,
      publishedTotal: 0,
    });
    expect(p1.oldestPendingAgeMs).toBeGreaterThanOrEqual(90_000);
    expect(p1.oldestPendingAgeMs).toBeLessThan(150_000);
    expect(status.openDeadLetters).toEqual({ relay: 1, consumer: { total: 3, byConsumer: { audit: 1, payments: 2 } } });

    const human = await ctl(['status'], db.env);
    expect(human.code).toBe(0);
    const lines = human.stdout.split('\n');
    const header = lines.find((l) => l.startsWith('PARTITION'))!;
    const rows = lines.filter((l) => /^\s+[01]\s/.test(l));
    expect(rows).toHaveLength(2);
    // Aligned: every column starts at the same offset in the header and in each row.
    for (const [column, p0Value, p1Value] of [
      ['LEADER', 'relay-a', 'relay-b (expired)'],
      ['LAST PUBLISHED', `${lastPublished.id} seq ${lastPublished.seq}`, '-'],
    ] as const) {
      const at = header.indexOf(column);
      expect(rows[0]!.slice(at)).toMatch(new RegExp(`^${p0Value.replace(/[()]/g, '\\$&')}\\s`));
      expect(rows[1]!.slice(at)).toMatch(new RegExp(`^${p1Value.replace(/[()]/g, '\\$&')}\\s`));
    }
    const pendingEnd = header.indexOf('PENDING') + 'PENDING'.length;
    expect(rows[1]!.slice(0, pendingEnd)).toMatch(new RegExp(` ${inPartition(1).length}$`));
    expect(rows[1]).toMatch(/ 1m3\ds /); // oldest pending age, ~90 s
    expect(human.stdout).toContain('open dead letters: relay 1, consumer 3 (audit: 1, payments: 2)');
  });

  it('still reports the outbox when the inbox schema has no tables, and says so', async () => {
    const missing = uniqueName('ctl_no_inbox');
    const json = await ctl(['status', '--json', '--inbox-schema', missing], db.env);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).openDeadLetters.consumer).toBeNull();
    const human = await ctl(['status'], { ...db.env, INBOX_SCHEMA: missing });
    expect(human.stdout).toContain(`consumer not available (no inbox tables in schema "${missing}")`);
  });

  it('takes the database URL from the flag over an invalid variable', async () => {
    const { code, stdout } = await ctl(['status', '--json', '--database-url', db.env.DATABASE_URL!], { ...db.env, DATABASE_URL: 'not-a-url' });
    expect(code).toBe(0);
    expect(JSON.parse(stdout).schema).toBe(db.schema);
  });

  it('an outbox schema that was never migrated is a runtime error (exit 1) whose hint, run as printed, migrates that schema', async () => {
    const missing = uniqueName('ctl_nothing');
    try {
      const { code, stderr } = await ctl(['status', '--schema', missing], db.env);
      expect(code).toBe(1);
      expect(stderr).toContain('does not exist');
      // The schemas of this run, not the defaults: a bare `outboxctl migrate` would migrate "outbox" instead.
      expect(stderr).toContain(`run \`outboxctl migrate --schema ${missing} --inbox-schema ${db.inboxSchema}\``);
      expect(await outboxRows(db)).toHaveLength(9); // nothing touched

      const migrate = await ctl(suggestedCommand(stderr), { DATABASE_URL: db.env.DATABASE_URL });
      expect(migrate.code).toBe(0);
      const after = await ctl(['status', '--json', '--schema', missing], db.env);
      expect(after.code).toBe(0);
      expect(JSON.parse(after.stdout).schema).toBe(missing);
    } finally {
      await db.pool.query(`DROP SCHEMA IF EXISTS "${missing}" CASCADE`);
    }
  });

  it('an inbox schema without tables, where a command needs them, names the migrate command with both schemas', async () => {
    const missing = uniqueName('ctl_no_inbox');
    try {
      const { code, stderr } = await ctl(['dlq', 'list', '--consumer', 'payments', '--inbox-schema', missing], db.env);
      expect(code).toBe(1);
      expect(stderr).toContain(`inbox tables not found in schema "${missing}"`);
      expect(stderr).toContain(`run \`outboxctl migrate --schema ${db.schema} --inbox-schema ${missing}\``);

      expect((await ctl(suggestedCommand(stderr), { DATABASE_URL: db.env.DATABASE_URL })).code).toBe(0);
      expect((await ctl(['dlq', 'list', '--consumer', 'payments', '--inbox-schema', missing], db.env)).code).toBe(0);
    } finally {
      await db.pool.query(`DROP SCHEMA IF EXISTS "${missing}" CASCADE`);
    }
  });

  it('shows a pending step-down request for the current epoch', async () => {
    const t = outboxTables(db.schema);
    await db.pool.query(`UPDATE ${t.partitions} SET step_down_epoch = epoch WHERE partition = 0`);
    const { stdout } = await ctl(['status', '--json'], db.env);
    expect(JSON.parse(stdout).partitions[0].stepDownPending).toBe(true);
    expect((await ctl(['status'], db.env)).stdout).toContain('(step-down requested)');
    // A request for an older epoch is not pending once a new term began.
    await db.pool.query(`UPDATE ${t.partitions} SET holder = NULL, expires_at = now() WHERE partition = 0`);
    await asLeader(db, 0, async () => {
      const again = JSON.parse((await ctl(['status', '--json'], db.env)).stdout);
      expect(again.partitions[0]).toMatchObject({ holder: 'fixture', stepDownPending: false });
    });
  });
});
