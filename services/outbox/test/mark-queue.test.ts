/** MarkQueue's rules, with a mark function the test controls (the relay tests cover it against Postgres). */
import { MarkQueue } from '../src/relay/mark-queue';
import type { OutboxRecord } from '../src/outbox-record';

const batch = (...seqs: number[]) => seqs.map((seq) => ({ seq: String(seq) }) as OutboxRecord);

function controlledMarks() {
  const started: string[][] = [];
  const gates: Array<{ open: () => void; fail: (e: unknown) => void }> = [];
  const mark = (records: readonly OutboxRecord[]) =>
    new Promise<void>((resolve, reject) => {
      started.push(records.map((r) => r.seq));
      gates.push({ open: resolve, fail: reject });
    });
  return { started, gates, mark };
}

const tick = () => new Promise(setImmediate);

it('runs marks one after the other in batch order, without making the caller wait until the queue is full', async () => {
  const { started, gates, mark } = controlledMarks();
  const marks = new MarkQueue(mark, 2);
  await marks.add(batch(1, 2), 0);
  await marks.add(batch(3), 0);
  await tick();
  // Both queued at once; only the first has started (serial).
  expect(started).toEqual([['1', '2']]);
  expect(marks.seqs).toEqual(['1', '2', '3']);
  let thirdQueued = false;
  const third = marks.add(batch(4), 0).then(() => (thirdQueued = true));
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
  await marks.add(batch(1), 0);
  await marks.add(batch(2), 0);
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
  await marks.add(batch(1), 0);
  marks.clear();
  expect(marks.seqs).toEqual([]);
  expect(marks.pending).toBe(false);
  await expect(marks.settleAll()).resolves.toBeUndefined();
});
