import { outboxTables, type OutboxRelay, type RelaySettings } from '@outbox-relay/outbox';
import { readLeases } from '../src/data/step-down';
import { createCtlDb, ctl, type CtlDb } from './support';
import { createTestStream, waitFor, type TestStream, makeRelay } from '@outbox-relay/test-support';

let db: CtlDb;
const leases = () => readLeases(db.pool, outboxTables(db.schema));
const stepDownEpochs = async () =>
  (await db.pool.query(`SELECT step_down_epoch FROM ${outboxTables(db.schema).partitions} ORDER BY partition`)).rows.map(
    (r: { step_down_epoch: string | null }) => r.step_down_epoch,
  );

describe('outboxctl step-down against running relays', () => {
  let ns: TestStream;
  const relays: OutboxRelay[] = [];
  beforeEach(async () => {
    db = await createCtlDb('ctl_stepdown');
    ns = await createTestStream('ctl_stepdown');
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
    await ns.drop();
    await db.drop();
  });

  function relay(instanceId: string, overrides: Partial<RelaySettings> = {}): OutboxRelay {
    const r = makeRelay(db, ns, ns.nc, { instanceId, ...overrides });
    relays.push(r);
    return r;
  }

  async function leaderIs(instanceId: string) {
    return waitFor(`${instanceId} to lead`, async () => {
      const [lease] = await leases();
      return lease!.live && lease!.holder === instanceId ? lease! : undefined;
    });
  }

  it('hands the lease to the other running relay: the holder changes and the epoch increments', async () => {
    const a = relay('relay-a');
    await a.start();
    const before = await leaderIs('relay-a');
    const b = relay('relay-b');
    await b.start();
    await waitFor('relay-b to be a candidate', () => b.status().partitions.length === 1);

    const { code, stdout, stderr } = await ctl(['step-down'], db.env);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(`partition 0: relay-a (epoch ${before.epoch}) → relay-b (epoch ${before.epoch + 1})\n`);
    const [after] = await leases();
    expect(after).toMatchObject({ holder: 'relay-b', epoch: before.epoch + 1, live: true });
    await waitFor('the relays to agree', () => !a.status().leading && b.status().leading);
  });

  it('a lone relay lets go and re-acquires with a new epoch after one lease (--json)', async () => {
    await relay('relay-a').start();
    const before = await leaderIs('relay-a');
    const { code, stdout } = await ctl(['step-down', '--json'], db.env);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      partitions: [
        {
          partition: 0,
          status: 'handed_over',
          before: { holder: 'relay-a', epoch: before.epoch },
          after: { holder: 'relay-a', epoch: before.epoch + 1, live: true },
        },
      ],
    });
  });

  it('reports a released lease that nobody took within --timeout, without failing', async () => {
    // A long lease: the relay's cooldown after stepping down outlasts the timeout.
    await relay('relay-a', { leaseMs: 10_000, renewMs: 200 }).start();
    const before = await leaderIs('relay-a');
    const { code, stdout } = await ctl(['step-down', '--timeout', '800'], db.env);
    expect(code).toBe(0);
    expect(stdout).toBe(`partition 0: relay-a (epoch ${before.epoch}) → released; no new leader within 800 ms\n`);
    expect((await leases())[0]).toMatchObject({ holder: null, epoch: before.epoch, live: false });
  });
});

describe('outboxctl step-down without a cooperating leader', () => {
  beforeEach(async () => {
    db = await createCtlDb('ctl_stepdown', { partitions: 2 });
  });
  afterEach(async () => {
    await db.drop();
  });

  const hold = (partition: number, holder: string, epoch: number, expires: string) =>
    db.pool.query(`UPDATE ${outboxTables(db.schema).partitions} SET holder = $2, epoch = $3, expires_at = now() + $4::interval WHERE partition = $1`, [
      partition,
      holder,
      epoch,
      expires,
    ]);

  it('exits 4 when a holder does not let go within --timeout, leaving the request recorded for its epoch', async () => {
    await hold(0, 'frozen-relay', 5, '1 minute');
    const started = Date.now();
    const { code, stdout, stderr } = await ctl(['step-down', '--timeout', '300'], db.env);
    expect(code).toBe(4);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(stderr).toBe(
      'outboxctl: partition 0: frozen-relay (epoch 5) did not release its lease within 300 ms; the request stays recorded ' +
        'for epoch 5 and is honoured at its next renewal\n',
    );
    expect(stdout).toBe('partition 1: no live leader (epoch 0, not held); nothing to step down\n');
    expect(await stepDownEpochs()).toEqual(['5', null]);
  });

  it('--partition asks only the named partitions', async () => {
    await hold(0, 'frozen-0', 3, '1 minute');
    await hold(1, 'frozen-1', 4, '1 minute');
    const { code, stdout, stderr } = await ctl(['step-down', '--partition', '1', '--timeout', '100', '--json'], db.env);
    expect(code).toBe(4);
    expect(stderr).toBe('');
    expect(JSON.parse(stdout)).toEqual({
      partitions: [{ partition: 1, status: 'timed_out', before: { holder: 'frozen-1', epoch: 4 }, after: { holder: 'frozen-1', epoch: 4, live: true } }],
    });
    expect(await stepDownEpochs()).toEqual([null, '4']);
  });

  it('reports partitions without a live leader (expired or never held) and exits 0 without touching them', async () => {
    await hold(0, 'gone', 3, '-1 second');
    const { code, stdout } = await ctl(['step-down', '--partition', '0,1'], db.env);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^partition 0: no live leader \(epoch 3, held by gone until \S+ \(expired\)\); nothing to step down$/m);
    expect(stdout).toContain('partition 1: no live leader (epoch 0, not held)');
    expect(await stepDownEpochs()).toEqual([null, null]);
  });

  it('refuses a partition that does not exist naming --partition (exit 2), changing nothing', async () => {
    await hold(0, 'relay-x', 2, '1 minute');
    const { code, stderr } = await ctl(['step-down', '--partition', '0', '--partition', '7'], db.env);
    expect(code).toBe(2);
    expect(stderr).toContain(`--partition 7: no such partition (schema "${db.schema}" has partitions 0, 1)`);
    expect(await stepDownEpochs()).toEqual([null, null]);
  });
});
