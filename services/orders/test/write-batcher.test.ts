/** WriteBatcher's batching rules, with a flush the test controls (no database needed for the rules themselves). */
import { WriteBatcher } from '../src/service/write-batcher';

interface Gate {
  items: number[];
  open(): void;
  fail(error: unknown): void;
}

/** A flush that records each call and completes only when the test opens (or fails) it. */
function controlledFlush() {
  const calls: Gate[] = [];
  const flush = (items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      calls.push({ items, open: () => resolve(items.map((i) => `done ${i}`)), fail: reject });
    });
  return { calls, flush };
}

it('flushes an item at once when idle', async () => {
  const { calls, flush } = controlledFlush();
  const batcher = new WriteBatcher(flush, { maxBatch: 10, maxInFlight: 1 });
  const result = batcher.submit(1);
  expect(calls.map((c) => c.items)).toEqual([[1]]);
  calls[0]!.open();
  await expect(result).resolves.toBe('done 1');
});

it('puts what arrives while flushes run into the next flush, up to maxBatch', async () => {
  const { calls, flush } = controlledFlush();
  const batcher = new WriteBatcher(flush, { maxBatch: 3, maxInFlight: 2 });
  const results = [1, 2, 3, 4, 5, 6, 7].map((i) => batcher.submit(i));
  // Two flushes in flight (1 and 2 went alone, the moment each arrived); 3..7 wait.
  expect(calls.map((c) => c.items)).toEqual([[1], [2]]);
  expect(batcher.depth).toEqual({ waiting: 5, inFlight: 2 });
  calls[0]!.open();
  await results[0];
  await new Promise(setImmediate);
  expect(calls.map((c) => c.items)).toEqual([[1], [2], [3, 4, 5]]);
  calls[1]!.open();
  await results[1];
  await new Promise(setImmediate);
  expect(calls.map((c) => c.items)).toEqual([[1], [2], [3, 4, 5], [6, 7]]);
  calls[2]!.open();
  calls[3]!.open();
  await expect(Promise.all(results)).resolves.toEqual([1, 2, 3, 4, 5, 6, 7].map((i) => `done ${i}`));
  expect(batcher.depth).toEqual({ waiting: 0, inFlight: 0 });
});

it('retries a refused batch one item at a time, so only the bad item fails', async () => {
  const refused = Object.assign(new Error('check violation'), { code: '23514' });
  const flushed: number[][] = [];
  const batcher = new WriteBatcher(
    async (items: number[]) => {
      flushed.push(items);
      if (items.includes(13)) throw refused;
      return items.map((i) => `done ${i}`);
    },
    { maxBatch: 10, maxInFlight: 1, retryAlone: (error) => (error as { code?: string }).code === '23514' },
  );
  const results = [1, 2, 13, 4].map((i) => batcher.submit(i).then((v) => v, (e: unknown) => e));
  expect(await Promise.all(results)).toEqual(['done 1', 'done 2', refused, 'done 4']);
  expect(flushed).toEqual([[1], [2, 13, 4], [2], [13], [4]]);
});

it('fails the whole batch without retrying when the error may hide a commit (a lost connection)', async () => {
  const lost = new Error('Connection terminated unexpectedly');
  const flushed: number[][] = [];
  const batcher = new WriteBatcher(
    async (items: number[]) => {
      flushed.push(items);
      if (items.length > 1) throw lost;
      return items.map(String);
    },
    { maxBatch: 10, maxInFlight: 1, retryAlone: (error) => (error as { code?: string }).code === '23514' },
  );
  const results = [1, 2, 3].map((i) => batcher.submit(i).then((v) => v, (e: unknown) => e));
  expect(await Promise.all(results)).toEqual(['1', lost, lost]);
  expect(flushed).toEqual([[1], [2, 3]]);
});

it('refuses a flush that answers for the wrong number of items', async () => {
  const batcher = new WriteBatcher(async () => ['only one'], { maxBatch: 10, maxInFlight: 1 });
  const first = batcher.submit(1);
  const [a, b] = [batcher.submit(2), batcher.submit(3)];
  await expect(first).resolves.toBe('only one');
  await expect(a).rejects.toThrow('flush returned 1 results for 2 items');
  await expect(b).rejects.toThrow('flush returned 1 results for 2 items');
});

it('refuses limits below one', () => {
  expect(() => new WriteBatcher(async () => [], { maxBatch: 0, maxInFlight: 1 })).toThrow(RangeError);
  expect(() => new WriteBatcher(async () => [], { maxBatch: 1, maxInFlight: 0 })).toThrow(RangeError);
});
