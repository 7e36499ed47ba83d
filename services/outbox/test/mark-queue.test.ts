/** MarkQueue's rules, with a mark function the test controls (the relay tests cover it against Postgres). */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MarkQueue } from '../src/relay/mark-queue';
import type { MarkedBatch } from '../src/relay/reader';
import type { OutboxRecord } from '../src/outbox-record';

const batch = (...seqs: number[]) => seqs.map((seq) => ({ seq: String(seq), id: `id-${seq}`, payload: 'x'.repeat(1000) }) as OutboxRecord);

function controlledMarks() {
  const started: string[][] = [];
  const marked: MarkedBatch[] = [];
  const gates: Array<{ open: () => void; fail: (e: unknown) => void }> = [];
  const mark = (batch: MarkedBatch) =>
    new Promise<void>((resolve, reject) => {
      started.push([...batch.seqs]);
      marked.push(batch);
      gates.push({ open: resolve, fail: reject });
    });
  return { started, marked, gates, mark };
}

const tick = () => new Promise(setImmediate);

it('runs marks one after the other in batch order, without making the caller wait until the queue is full', async () => {
  const { started, gates, mark } = controlledMarks();
  const marks = new MarkQueue(mark, 2);
  await marks.add(batch(1, 2), 0, '0');
  await marks.add(batch(3), 0, '0');
  await tick();
  // Both queued at once; only the first has started (serial).
  expect(started).toEqual([['1', '2']]);
  expect(marks.seqs).toEqual(['1', '2', '3']);
  let thirdQueued = false;
  const third = marks.add(batch(4), 0, '0').then(() => (thirdQueued = true));
  await tick();
  expect(thirdQueued).toBe(false); // full: waits for the oldest
  gates[0]!.open();
  await third;
  await tick();
  expect(started).toEqual([['1', '2'], ['3']]);
  expect(marks.seqs).toEqual(['3', '4']);
  gates[1]!.open();
  await tick();
  gates[2]!.open();
  await marks.settleAll();
  expect(started).toEqual([['1', '2'], ['3'], ['4']]);
  expect(marks.pending).toBe(false);
});

it('throws a failed mark once it is settled, and goes on with the next marks', async () => {
  const { started, gates, mark } = controlledMarks();
  const marks = new MarkQueue(mark, 2);
  const lost = new Error('epoch superseded');
  await marks.add(batch(1), 0, '0');
  await marks.add(batch(2), 0, '0');
  await tick();
  gates[0]!.fail(lost);
  await tick();
  gates[1]!.open();
  await expect(marks.settleAll()).rejects.toBe(lost);
  expect(started).toEqual([['1'], ['2']]);
  expect(marks.pending).toBe(false);
});

it('forgets queued marks when cleared', async () => {
  const { mark } = controlledMarks();
  const marks = new MarkQueue(mark, 2);
  await marks.add(batch(1), 0, '0');
  marks.clear();
  expect(marks.seqs).toEqual([]);
  expect(marks.pending).toBe(false);
  await expect(marks.settleAll()).resolves.toBeUndefined();
});

it('keeps only the seqs and the last event of a queued batch, not the events themselves', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const { started, marked, gates, mark } = controlledMarks();
  const marks = new MarkQueue(mark, 2);
  await marks.add(batch(1), 0, '0');
  // The second batch waits behind the first (gated) mark; nothing but the queue refers to its events any more.
  const queued = await (async () => {
    const records = batch(2, 3);
    await marks.add(records, 7, '0');
    return new WeakRef(records[1]!);
  })();
  await tick();
  gc();
  expect(queued.deref()).toBeUndefined();
  gates[0]!.open();
  await tick();
  gates[1]!.open();
  await marks.settleAll();
  expect(started).toEqual([['1'], ['2', '3']]);
  expect(marked[1]).toEqual({ seqs: ['2', '3'], lastSeq: '3', lastId: 'id-3' });
});
