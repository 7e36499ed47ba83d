/**
 * RelayMetrics and BacklogMetrics on a real relay (Postgres + JetStream): what a scrape shows after events were
 * written and published, for the leader and for a follower, and the backlog cache.
 */
import { Outbox, type OutboxRelay } from '@outbox-relay/outbox';
import { BacklogMetrics, RelayMetrics, ServiceMetrics } from '@outbox-relay/telemetry';
import { relayTestBed, type TestSchema, readStream, waitFor, type TestStream, makeRelay } from '@outbox-relay/test-support';
import { parseMetrics, samplesOf, valueOf, type Sample } from './support/scrape';

const bed = relayTestBed('telrelay', { partitions: 2 });
const relays = bed.relays;
let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;
beforeEach(() => ({ db, ns, outbox } = bed));

async function write(count: number, aggregates = 10): Promise<void> {
  await outbox.transaction((tx) =>
    outbox.enqueue(
      tx,
      Array.from({ length: count }, (_, i) => ({ aggregateType: 'Order', aggregateId: `a${i % aggregates}`, eventType: 'Step', payload: { i } })),
    ),
  );
}

async function scrape(metrics: ServiceMetrics): Promise<Sample[]> {
  return parseMetrics(await metrics.text());
}

function startRelay(metrics: ServiceMetrics, instanceId: string): { relay: OutboxRelay; relayMetrics: RelayMetrics } {
  let relay: OutboxRelay | undefined = undefined;
  const relayMetrics = new RelayMetrics(metrics.registry, { leadership: () => relay?.status().partitions ?? null });
  relay = makeRelay(db, ns, ns.nc, { instanceId }, relayMetrics);
  relays.push(relay);
  return { relay, relayMetrics };
}

describe('relay and backlog metrics', () => {
  it('count what was published, show the backlog draining and leadership per partition', async () => {
    const metrics = new ServiceMetrics();
    new BacklogMetrics(metrics.registry, { pool: db.pool, schema: db.schema, cacheMs: 0 });
    await write(300);

    // Before any relay: everything pending, oldest age measured, nothing published.
    const before = await scrape(metrics);
    const pendingBefore = samplesOf(before, 'outbox_pending_events');
    expect(pendingBefore.map((s) => s.labels.partition).sort()).toEqual(['0', '1']);
    expect(pendingBefore.reduce((sum, s) => sum + s.value, 0)).toBe(300);
    expect(Math.max(...samplesOf(before, 'outbox_oldest_pending_age_seconds').map((s) => s.value))).toBeGreaterThan(0);
    expect(valueOf(before, 'outbox_oldest_transaction_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(samplesOf(before, 'outbox_events_published_total')).toEqual([]);

    // The backlog ages before any relay runs: every event's commit_to_read stage includes that wait.
    const writtenAt = Date.now();
    await waitFor('the backlog 250 ms old', () => Date.now() - writtenAt >= 250);
    const { relay } = startRelay(metrics, 'leader-1');
    await relay.start();
    await waitFor('stream has 300', async () => ((await readStream(ns.nc, ns.stream).catch(() => [])).length === 300 ? true : undefined));
    const after = await waitFor('backlog drained', async () => {
      const s = await scrape(metrics);
      return samplesOf(s, 'outbox_pending_events').every((p) => p.value === 0) ? s : undefined;
    });

    const published = samplesOf(after, 'outbox_events_published_total');
    expect(published.reduce((sum, s) => sum + s.value, 0)).toBe(300);
    expect(samplesOf(after, 'outbox_oldest_pending_age_seconds').map((s) => s.value)).toEqual([0, 0]);
    // Every acknowledged event is one commit→ack observation; every batch one batch-size observation.
    expect(valueOf(after, 'outbox_commit_to_ack_seconds_count')).toBe(300);
    expect(valueOf(after, 'outbox_commit_to_ack_seconds_bucket', { le: '+Inf' })).toBe(300);
    expect(valueOf(after, 'outbox_commit_to_ack_seconds_sum')).toBeGreaterThan(0);
    expect(valueOf(after, 'outbox_publish_batch_size_events_sum')).toBe(300);
    expect(valueOf(after, 'outbox_publish_batch_size_events_count')).toBeGreaterThanOrEqual(2);
    expect(samplesOf(after, 'outbox_publish_errors_total')).toEqual([]);
    // Stages: commit_to_read per event (none under the 250 ms the backlog waited), the others per batch.
    const batches = valueOf(after, 'outbox_publish_batch_size_events_count');
    const stage = (name: string, suffix: string, extra: Record<string, string> = {}) => valueOf(after, `outbox_relay_stage_seconds_${suffix}`, { stage: name, ...extra });
    expect(stage('commit_to_read', 'count')).toBe(300);
    expect(stage('commit_to_read', 'bucket', { le: '0.1' })).toBe(0);
    expect(stage('commit_to_read', 'sum')).toBeGreaterThanOrEqual(300 * 0.25);
    for (const name of ['read', 'read_to_sent', 'sent_to_ack']) {
      expect(stage(name, 'count')).toBe(batches);
      expect(stage(name, 'sum')).toBeGreaterThan(0);
    }

    // Alone, this relay leads both partitions, each acquired once.
    for (const partition of ['0', '1']) {
      expect(valueOf(after, 'outbox_relay_is_leader', { partition })).toBe(1);
      expect(valueOf(after, 'outbox_relay_epoch', { partition })).toBeGreaterThanOrEqual(1);
      expect(valueOf(after, 'outbox_relay_leader_transitions_total', { partition, transition: 'acquired' })).toBe(1);
    }
    // Default process metrics are there too.
    expect(valueOf(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('a second instance shows is_leader 0 for the partitions it does not hold, and a stop is counted as lost', async () => {
    const first = new ServiceMetrics({ defaultMetrics: false });
    const second = new ServiceMetrics({ defaultMetrics: false });
    const a = startRelay(first, 'relay-a');
    await a.relay.start();
    await waitFor('relay-a leads both', () => a.relay.status().partitions.every((p) => p.leading) || undefined);
    const b = startRelay(second, 'relay-b');
    await b.relay.start();
    // The balancer moves one of the two partitions to the newcomer.
    await waitFor('one partition each', () => (a.relay.status().partitions.filter((p) => p.leading).length === 1 && b.relay.status().partitions.filter((p) => p.leading).length === 1) || undefined, 15_000);

    const [sa, sb] = [await scrape(first), await scrape(second)];
    for (const partition of ['0', '1']) {
      const leaders = [valueOf(sa, 'outbox_relay_is_leader', { partition }), valueOf(sb, 'outbox_relay_is_leader', { partition })];
      expect(leaders.sort()).toEqual([0, 1]);
    }
    // relay-a handed one partition over: acquired twice in total, lost once.
    expect(samplesOf(sa, 'outbox_relay_leader_transitions_total', { transition: 'acquired' }).reduce((n, s) => n + s.value, 0)).toBe(2);
    expect(samplesOf(sa, 'outbox_relay_leader_transitions_total', { transition: 'lost' }).reduce((n, s) => n + s.value, 0)).toBe(1);

    await write(50);
    await waitFor('both publish', async () => {
      const total = [...samplesOf(await scrape(first), 'outbox_events_published_total'), ...samplesOf(await scrape(second), 'outbox_events_published_total')];
      return total.reduce((n, s) => n + s.value, 0) === 50 || undefined;
    });

    await b.relay.stop();
    relays.splice(relays.indexOf(b.relay), 1);
    const stopped = await scrape(second);
    expect(samplesOf(stopped, 'outbox_relay_is_leader').map((s) => s.value)).toEqual([0, 0]);
    expect(samplesOf(stopped, 'outbox_relay_leader_transitions_total', { transition: 'lost' }).reduce((n, s) => n + s.value, 0)).toBe(1);
  });

  it('serves backlog scrapes from a cache within cacheMs, and leaves the gauges out when the database fails', async () => {
    const metrics = new ServiceMetrics({ defaultMetrics: false });
    new BacklogMetrics(metrics.registry, { pool: db.pool, schema: db.schema, cacheMs: 60_000 });
    await write(5);
    const first = await scrape(metrics);
    await write(7);
    const second = await scrape(metrics);
    const total = (s: Sample[]) => samplesOf(s, 'outbox_pending_events').reduce((n, p) => n + p.value, 0);
    expect(total(first)).toBe(5);
    expect(total(second)).toBe(5); // cached: no second query within the minute

    const fresh = new ServiceMetrics({ defaultMetrics: false });
    new BacklogMetrics(fresh.registry, { pool: db.pool, schema: db.schema, cacheMs: 0 });
    expect(total(await scrape(fresh))).toBe(12);

    const broken = new ServiceMetrics({ defaultMetrics: false });
    new BacklogMetrics(broken.registry, { pool: db.pool, schema: 'no_such_schema', cacheMs: 0 });
    const failed = await scrape(broken);
    expect(samplesOf(failed, 'outbox_pending_events')).toEqual([]);
    expect(valueOf(failed, 'outbox_oldest_transaction_age_seconds')).toBeNaN();
    expect(valueOf(failed, 'outbox_backlog_read_errors_total')).toBe(1);
  });

  it('measures the oldest open transaction', async () => {
    const metrics = new ServiceMetrics({ defaultMetrics: false });
    new BacklogMetrics(metrics.registry, { pool: db.pool, schema: db.schema, cacheMs: 0 });
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_current_xact_id()');
      const { rows } = await client.query<{ started: Date }>('SELECT xact_start AS started FROM pg_stat_activity WHERE pid = pg_backend_pid()');
      const started = rows[0]!.started.getTime();
      const seen = await waitFor('the open transaction to be 0.3 s old', async () => {
        const age = valueOf(await scrape(metrics), 'outbox_oldest_transaction_age_seconds') ?? 0;
        return age >= 0.3 ? age : undefined;
      });
      // At least as old as ours (another test's transaction may be older).
      expect(seen * 1000).toBeGreaterThanOrEqual(Math.min(300, Date.now() - started - 50));
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
});
