/**
 * Retention: published events and resolved dead letters go after their retention periods, in small batches,
 * while the relay keeps publishing; unpublished events and open dead letters are never deleted.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { Outbox, sweepOutbox, type OutboxRelay } from '@outbox-relay/outbox';
import { OutboxReader, type Fence } from '@outbox-relay/outbox/internal';
import { createTestSchema, type TestSchema, createTestStream, waitFor, type TestStream, makeRelay, recordingObserver } from '@outbox-relay/test-support';

let db: TestSchema;
let ns: TestStream;
let outbox: Outbox;

beforeEach(async () => {
  db = await createTestSchema('retention');
  ns = await createTestStream('retention');
  outbox = new Outbox({ pool: db.pool, schema: db.schema });
});
afterEach(async () => {
  await outbox.close();
  await ns.drop();
  await db.drop();
});

const count = async (table = 'outbox', where = 'true') =>
  (await db.pool.query(`SELECT count(*)::int AS n FROM "${db.schema}".${table} WHERE ${where}`)).rows[0].n as number;

it('keeps the outbox table bounded while events flow, and every event still reaches the stream', async () => {
  const { observer, calls } = recordingObserver();
  const relay: OutboxRelay = makeRelay(db, ns, ns.nc, {
    retention: { publishedMs: 200, deadLetterMs: 200, intervalMs: 50, batchSize: 200 },
  }, observer);
  await relay.start();
  try {
    let written = 0;
    let peak = 0;
    // Rows still there 2 s after they were published, although retention is 200 ms (sweeps every 50 ms).
    let overduePeak = 0;
    let writing = true;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      while (writing) {
        const batch = Array.from({ length: 10 }, (_, i) => ({ aggregateType: 'Order', aggregateId: `w${w}-${i}`, eventType: 'Tick', payload: { w } }));
        await outbox.transaction((tx) => outbox.enqueue(tx, batch));
        written += batch.length;
      }
    });
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      peak = Math.max(peak, await count());
      overduePeak = Math.max(overduePeak, await count('outbox_published', `published_at < now() - interval '2 seconds'`));
      await new Promise((r) => setTimeout(r, 50));
    }
    writing = false;
    await Promise.all(writers);

    // Without retention every published row would stay (overdue rows would grow to nearly all written); with it,
    // published rows live about 200 ms. How far the relay lags (unpublished rows) depends on the machine's load,
    // so the bound is on what retention controls.
    expect(written).toBeGreaterThan(1000);
    expect(overduePeak).toBeLessThan(written / 20);
    expect(peak).toBeLessThan(written);
    await waitFor('every event in the stream', async () => {
      const info = await (await jetstreamManager(ns.nc)).streams.info(ns.stream);
      return info.state.messages === written || undefined;
    }, 30_000);
    await waitFor('the table to empty once everything is past retention', async () => ((await count()) === 0 ? true : undefined), 10_000);
    // The sweeper adds a batch to its totals when the DELETE returns, a moment after the table shows it gone.
    await waitFor('every deletion counted', () => (relay.retentionTotals().published >= written ? true : undefined), 5000);
    expect(relay.retentionTotals().published).toBe(written);
    // Reported for metrics: every deletion, and a commit → ack latency per published event.
    expect(calls.retention.filter((r) => r.table === 'outbox').reduce((n, r) => n + r.rows, 0)).toBe(written);
    const latencies = calls.published.flatMap((p) => p.commitToAckMs);
    expect(latencies).toHaveLength(written);
    expect(latencies.every((ms) => ms >= 0 && ms < 30_000)).toBe(true);
  } finally {
    await relay.stop();
  }
});

it('deletes only published events and resolved dead letters past retention, in batches', async () => {
  const t = `"${db.schema}"`;
  const rows = await outbox.transaction((tx) =>
    outbox.enqueue(tx, Array.from({ length: 9 }, (_, i) => ({ aggregateType: 'Order', aggregateId: `r${i}`, eventType: 'E', payload: { i } }))),
  );
  const seqs = rows.map((r) => r.seq);
  // 5 published long ago (in three marks), 2 published just now, 2 never published (and created long ago). Marked
  // by the relay's own statement under a held lease; only the marks' time is moved back.
  const fence: Fence = { partition: 0, holder: 'retention-test', epoch: 1 };
  await db.pool.query(`UPDATE ${t}.outbox_partitions SET holder = $1, epoch = $2, expires_at = now() + interval '1 hour' WHERE partition = 0`, [fence.holder, fence.epoch]);
  const reader = new OutboxReader(db.pool, db.schema);
  for (const part of [seqs.slice(0, 2), seqs.slice(2, 4), seqs.slice(4, 5), seqs.slice(5, 7)]) {
    await reader.markSeqsPublished(fence, { seqs: part, lastSeq: part[part.length - 1]!, lastId: rows[0]!.id }, 1);
  }
  await db.pool.query(`UPDATE ${t}.outbox_marks SET marked_at = now() - interval '2 hours' WHERE high_seq <= $1`, [seqs[4]]);
  await db.pool.query(`UPDATE ${t}.outbox SET created_at = now() - interval '30 days' WHERE seq = ANY($1::bigint[])`, [seqs.slice(7)]);
  const letter = (resolvedAgo: string | null, i: number) =>
    db.pool.query(
      `INSERT INTO ${t}.outbox_dead_letters (event_id, seq, partition, aggregate_type, aggregate_id, event_type, payload, headers,
         created_at, reason, attempts, failed_epoch, failed_at, resolved_at, resolution)
       VALUES (gen_random_uuid(), $1, 0, 'Order', 'd', 'E', '{}', '{}', now(), 'too large', 5, 1, now() - interval '30 days',
         CASE WHEN $2::interval IS NULL THEN NULL ELSE now() - $2::interval END, CASE WHEN $2::interval IS NULL THEN NULL ELSE 'discarded' END)`,
      [1000 + i, resolvedAgo],
    );
  await letter('30 days', 1); // resolved long ago: goes
  await letter('1 minute', 2); // resolved recently: stays
  await letter(null, 3); // open, however old: stays

  const result = await sweepOutbox(db.pool, db.schema, { publishedMs: 3_600_000, deadLetterMs: 7 * 24 * 3_600_000, batchSize: 2 });
  expect(result).toEqual({ published: 5, deadLetters: 1 });
  const left = (await db.pool.query(`SELECT o.seq::text FROM ${t}.outbox o ORDER BY o.seq`)).rows.map((r) => r.seq);
  expect(left).toEqual(seqs.slice(5));
  // The marks of the deleted events went with them; the recent mark stays.
  expect(await count('outbox_marks')).toBe(1);
  const letters = (await db.pool.query(`SELECT seq::int FROM ${t}.outbox_dead_letters ORDER BY seq`)).rows.map((r) => r.seq);
  expect(letters).toEqual([1002, 1003]);
});
