import { outboxTables } from '@outbox-relay/outbox';
import { createCtlDb, ctl, enqueueEvents, outboxRows, publishPending, type CtlDb } from './support';

let db: CtlDb;
beforeEach(async () => {
  db = await createCtlDb('ctl_replay');
});
afterEach(async () => {
  await db.drop();
});

const step = (aggregateId: string, n: number, aggregateType = 'Order') => ({
  aggregateType,
  aggregateId,
  eventType: `Step${n}`,
  payload: { aggregateId, n },
  headers: { correlationId: `corr-${aggregateId}-${n}` },
});

/** order-1 steps 1-4 and order-2 steps 1-2, interleaved and published; then one pending order-1 step. */
async function history() {
  const published = await enqueueEvents(db, [step('order-1', 1), step('order-2', 1), step('order-1', 2), step('order-1', 3), step('order-2', 2), step('order-1', 4)]);
  await publishPending(db);
  await enqueueEvents(db, [step('order-1', 5)]);
  const byId = new Map((await outboxRows(db)).map((r) => [r.id, r]));
  return { order1: [0, 2, 3, 5].map((i) => byId.get(published[i]!.id)!) };
}

describe('outboxctl replay --aggregate', () => {
  it("re-enqueues the aggregate's published events in seq order with new ids and replayOf = original id", async () => {
    const { order1 } = await history();
    const before = await outboxRows(db);

    const { code, stdout, stderr } = await ctl(['replay', '--aggregate', 'order-1'], db.env);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('replayed 4 event(s)');
    const after = await outboxRows(db);
    expect(after.slice(0, before.length)).toEqual(before);
    const added = after.slice(before.length);
    expect(added).toEqual(
      order1.map((original) => ({
        seq: expect.any(String),
        id: expect.any(String),
        aggregateId: 'order-1',
        eventType: original.eventType,
        payload: original.payload,
        headers: { ...original.headers, replayOf: original.id },
        published: false,
      })),
    );
    const ids = added.map((r) => r.id);
    expect(new Set(ids).size).toBe(4);
    for (const id of ids) expect(before.map((r) => r.id)).not.toContain(id);
    const seqs = added.map((r) => Number(r.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it('--dry-run lists what would be replayed and writes nothing (--json shape)', async () => {
    const { order1 } = await history();
    const before = await outboxRows(db);
    const { code, stdout } = await ctl(['replay', '--aggregate', 'order-1', '--dry-run', '--json'], db.env);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      dryRun: true,
      events: order1.map((o) => ({
        originalId: o.id,
        originalSeq: o.seq,
        aggregateType: 'Order',
        aggregateId: 'order-1',
        eventType: o.eventType,
        createdAt: expect.any(String),
        publishedAt: expect.any(String),
        replayId: null,
        replaySeq: null,
      })),
    });
    const human = await ctl(['replay', '--aggregate', 'order-1', '--dry-run'], db.env);
    expect(human.stdout).toContain('dry run: would replay 4 event(s); nothing changed');
    expect(human.stdout.match(/\(dry run\)/g)).toHaveLength(4);
    expect(await outboxRows(db)).toEqual(before);
  });

  it('--json reports each new id and seq next to its original', async () => {
    const { order1 } = await history();
    const { stdout } = await ctl(['replay', '--aggregate', 'order-1', '--json'], db.env);
    const result = JSON.parse(stdout);
    expect(result.dryRun).toBe(false);
    const rows = await outboxRows(db);
    for (const [i, event] of result.events.entries()) {
      expect(event.originalId).toBe(order1[i]!.id);
      const written = rows.find((r) => r.id === event.replayId)!;
      expect(written.seq).toBe(event.replaySeq);
      expect(written.headers.replayOf).toBe(order1[i]!.id);
    }
  });

  it('--since keeps only events written at or after that time; --aggregate-type filters by type', async () => {
    const { order1 } = await history();
    const t = outboxTables(db.schema);
    await db.pool.query(`UPDATE ${t.outbox} SET created_at = now() - interval '2 hours' WHERE id = ANY($1::uuid[])`, [[order1[0]!.id, order1[1]!.id]]);
    await enqueueEvents(db, [step('order-1', 9, 'Invoice')]);
    await publishPending(db);
    const since = new Date(Date.now() - 60 * 60 * 1000).toISOString();

    const typed = JSON.parse((await ctl(['replay', '--aggregate', 'order-1', '--aggregate-type', 'Order', '--since', since, '--dry-run', '--json'], db.env)).stdout);
    // Step 5 was published by the second publishPending; the Invoice event is another type.
    expect(typed.events.map((e: { eventType: string }) => e.eventType)).toEqual(['Step3', 'Step4', 'Step5']);
    const any = JSON.parse((await ctl(['replay', '--aggregate', 'order-1', '--since', since, '--dry-run', '--json'], db.env)).stdout);
    expect(any.events.map((e: { aggregateType: string; eventType: string }) => `${e.aggregateType}.${e.eventType}`)).toEqual([
      'Order.Step3',
      'Order.Step4',
      'Order.Step5',
      'Invoice.Step9',
    ]);
    // A date alone means midnight UTC.
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const none = await ctl(['replay', '--aggregate', 'order-1', '--since', tomorrow], db.env);
    expect(none.code).toBe(3);
  });

  it('replaying again points every replay at the original, once per original', async () => {
    const { order1 } = await history();
    expect((await ctl(['replay', '--aggregate', 'order-1'], db.env)).code).toBe(0);
    await publishPending(db);
    const before = await outboxRows(db);
    const { code, stdout } = await ctl(['replay', '--aggregate', 'order-1', '--json'], db.env);
    expect(code).toBe(0);
    // Originals 1-4 plus step 5 (published since); the earlier replays are not replayed again.
    const originals = JSON.parse(stdout).events.map((e: { originalId: string }) => e.originalId);
    expect(originals).toEqual([...order1.map((o) => o.id), before.find((r) => r.eventType === 'Step5')!.id]);
    const added = (await outboxRows(db)).slice(before.length);
    expect(added.map((r) => r.headers.replayOf)).toEqual(originals);
  });

  it('exits 3 and writes nothing when the aggregate has no published events in the outbox', async () => {
    await history();
    const before = await outboxRows(db);
    const { code, stderr } = await ctl(['replay', '--aggregate', 'order-404'], db.env);
    expect(code).toBe(3);
    expect(stderr).toContain('no published events of aggregate "order-404"');
    expect(await outboxRows(db)).toEqual(before);
  });
});
