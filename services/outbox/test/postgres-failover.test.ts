/**
 * The relays and the writers through a Postgres failover, under load: a primary with an asynchronous streaming
 * standby, two relays and a writer that all connect with the host list of both. The primary is killed while events
 * are written and published, the standby is promoted, and everyone carries on without being reconfigured. Then the
 * stream is audited against the promoted server: every event it holds is published exactly once, in per-aggregate
 * order, and nothing is left unpublished. What asynchronous replication may lose (commits acknowledged by the old
 * primary that never reached the standby) and what of it had been published (phantoms, see no-phantom tests) is
 * counted and reported with the publishing stall.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats, defaultRelaySettings, migrateOutbox, Outbox, OutboxRelay } from '@outbox-relay/outbox';
import { createTestStream, PrivatePostgresPair, quietLogger, readStream, testNeeding, TEST_NATS_URL, type TestStream, waitFor, countPendingEvents } from '@outbox-relay/test-support';

const withPostgresServer = testNeeding('postgres-server');

const SCHEMA = 'outbox';
const AGGREGATES = 12;

let servers: PrivatePostgresPair;
let ns: TestStream;
let nats: NatsConnection;
const running: OutboxRelay[] = [];

beforeAll(async () => {
  servers = await PrivatePostgresPair.start();
  ns = await createTestStream('pgfail');
  nats = await connectNats({ url: TEST_NATS_URL, name: 'postgres-failover' });
}, 180_000);
afterAll(async () => {
  await Promise.all(running.map((r) => r.stop().catch(() => undefined)));
  await nats?.close();
  await ns?.drop();
  await servers?.destroy();
}, 120_000);

function relay(instanceId: string): OutboxRelay {
  const target = servers.target();
  const data = servers.pool(6, target);
  const lease = servers.pool(2, target);
  return new OutboxRelay(
    { pool: data, leasePool: lease, nats, logger: quietLogger },
    defaultRelaySettings({ schema: SCHEMA, stream: ns.stream, subjectPrefix: ns.subjectPrefix, instanceId, leaseMs: 2000, renewMs: 250, pollMs: 100, backoffMinMs: 50, backoffMaxMs: 500 }),
  );
}

/** Writes one event per aggregate in turn, each aggregate's steps 1, 2, 3 …; a failed commit is retried. */
class SteadyWriter {
  /** Event id → aggregate and step, for every commit the database acknowledged. */
  readonly acknowledged = new Map<string, { aggregateId: string; step: number }>();
  readonly steps = new Array<number>(AGGREGATES).fill(0);
  failures = 0;
  private stopping = false;
  private loop: Promise<void> | null = null;

  constructor(private readonly outbox: Outbox) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    for (let i = 0; !this.stopping; i = (i + 1) % AGGREGATES) {
      const aggregateId = `acct-${i}`;
      const step = this.steps[i]! + 1;
      try {
        const [event] = await this.outbox.transaction((tx) => this.outbox.enqueue(tx, { aggregateType: 'Account', aggregateId, eventType: 'Stepped', payload: { step } }));
        this.acknowledged.set(event!.id, { aggregateId, step });
        this.steps[i] = step;
      } catch {
        this.failures++;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
}

withPostgresServer('kill -9 of the primary under load, standby promoted: every event of the promoted server published once, in order', async () => {
  await migrateOutbox({ pool: servers.pool(1), schema: SCHEMA, partitions: 4 });
  const writerPool = servers.pool(4);
  const outbox = new Outbox({ pool: writerPool, schema: SCHEMA });
  const relays = [relay('relay-a'), relay('relay-b')];
  running.push(...relays);
  for (const r of relays) await r.start();
  const writer = new SteadyWriter(outbox);
  let killedAt = 0;
  let promotedAt = 0;
  writer.start();
  try {
    await waitFor('events published before the failover', async () => ((await readStream(nats, ns.stream).catch(() => [])).length >= 200 ? true : undefined), 60_000);

    killedAt = Date.now();
    await servers.primary.kill();
    await servers.standby.promote();
    promotedAt = Date.now();
    const committedBefore = writer.acknowledged.size;
    await waitFor('the writer commits again', () => (writer.acknowledged.size >= committedBefore + 200 ? true : undefined), 60_000);
  } finally {
    await writer.stop();
  }

  // Everything the promoted server holds gets published.
  await waitFor('nothing left unpublished on the promoted server', async () => ((await countPendingEvents(servers.standby, SCHEMA)) === 0 ? true : undefined), 120_000);
  await Promise.all(running.splice(0).map((r) => r.stop()));
  await outbox.close();

  const rows = await servers.standby.query<{ id: string; aggregate_id: string; step: number }>(`SELECT id, aggregate_id, (payload->>'step')::int AS step FROM ${SCHEMA}.outbox ORDER BY seq`);
  const stored = await readStream(nats, ns.stream);
  const onServer = new Set(rows.map((r) => r.id));
  const counts = new Map<string, number>();
  for (const m of stored) counts.set(m.eventId, (counts.get(m.eventId) ?? 0) + 1);
  // Once each: nothing lost, nothing twice.
  expect(rows.filter((r) => counts.get(r.id) !== 1)).toEqual([]);
  // In per-aggregate order: the steps of each aggregate, as stored, go up (phantoms left out: see below).
  const lastStep = new Map<string, number>();
  const outOfOrder: string[] = [];
  for (const m of stored.filter((s) => onServer.has(s.eventId))) {
    const step = (m.data as { step: number }).step;
    if (step <= (lastStep.get(m.aggregateId) ?? 0)) outOfOrder.push(`${m.aggregateId} step ${step} after ${lastStep.get(m.aggregateId)}`);
    lastStep.set(m.aggregateId, step);
  }
  expect(outOfOrder).toEqual([]);
  // Every commit acknowledged after the promotion is on the promoted server (those before it may be lost: async).
  const lostCommits = [...writer.acknowledged.keys()].filter((id) => !onServer.has(id)).length;
  const phantoms = stored.filter((m) => !onServer.has(m.eventId)).length;
  // The stall: the longest the stream went without a new message around the failover, and from the promotion to
  // the first message stored after it (the stream's clock and this process's are the same machine's).
  const lastBefore = stored.filter((m) => m.storedAtMs <= killedAt).at(-1)?.storedAtMs ?? killedAt;
  const firstAfter = stored.find((m) => m.storedAtMs >= promotedAt)?.storedAtMs ?? promotedAt;
  process.stderr.write(
    `postgres-failover: ${rows.length} events on the promoted server, ${stored.length} stored; ${writer.failures} failed commits retried, ` +
      `${lostCommits} acknowledged commits lost by asynchronous replication, ${phantoms} phantom events published; ` +
      `publishing stalled ${firstAfter - lastBefore} ms (kill → promoted ${promotedAt - killedAt} ms, promoted → first publish ${firstAfter - promotedAt} ms)\n`,
  );
}, 300_000);
