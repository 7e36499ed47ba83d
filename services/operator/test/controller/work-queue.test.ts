import { Backoff } from '@outbox-relay/runtime';
import { WorkQueue, type ProcessKey } from '../../src/work-queue';
import { waitFor } from '@outbox-relay/test-support';

/** A promise the test resolves by hand, to hold a key "in processing" as long as it needs. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

function queueWith(process: ProcessKey, concurrency = 1, onError?: (key: string, err: unknown, ms: number) => void): WorkQueue {
  return new WorkQueue({ process, concurrency, retry: { minMs: 10, maxMs: 40 }, ...(onError ? { onError } : {}) });
}

describe('WorkQueue', () => {
  let queue: WorkQueue;
  afterEach(() => queue.stop());

  test('coalesces adds of a waiting key into one run', async () => {
    const runs: string[] = [];
    const blocker = gate();
    queue = queueWith(async (key) => {
      runs.push(key);
      if (key === 'blocker') await blocker.promise;
    });
    queue.add('blocker');
    for (let i = 0; i < 5; i++) queue.add('ns/a');
    expect(queue.length).toBe(1);
    blocker.open();
    await waitFor('ns/a processed', () => runs.includes('ns/a'));
    await waitFor('queue idle', () => queue.size === 0);
    expect(runs).toEqual(['blocker', 'ns/a']);
  });

  test('a key added while it is processed runs once more afterwards, never twice at once', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const first = gate();
    queue = queueWith(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      runs++;
      if (runs === 1) await first.promise;
      active--;
    }, 4);
    queue.add('ns/a');
    await waitFor('first run started', () => runs === 1);
    queue.add('ns/a');
    queue.add('ns/a');
    expect(runs).toBe(1);
    first.open();
    await waitFor('second run', () => runs === 2);
    await waitFor('queue idle', () => queue.size === 0);
    expect(runs).toBe(2);
    expect(maxActive).toBe(1);
  });

  test('processes different keys in parallel up to the concurrency', async () => {
    let active = 0;
    let maxActive = 0;
    const release = gate();
    queue = queueWith(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await release.promise;
      active--;
    }, 2);
    ['a', 'b', 'c', 'd'].forEach((k) => queue.add(k));
    await waitFor('two running', () => active === 2);
    expect(queue.length).toBe(2);
    release.open();
    await waitFor('all done', () => queue.size === 0);
    expect(maxActive).toBe(2);
  });

  test('retries a failing key with growing, capped delays and starts over after a success', async () => {
    const delays: number[] = [];
    let calls = 0;
    queue = queueWith(
      async () => {
        calls++;
        if (calls <= 4 || calls === 6) throw new Error(`failure ${calls}`);
      },
      1,
      (_key, _err, ms) => delays.push(ms),
    );
    queue.add('ns/flaky');
    await waitFor('success after four failures', () => calls === 5);
    expect(delays[0]).toBeGreaterThanOrEqual(5);
    expect(delays[0]).toBeLessThanOrEqual(10);
    expect(delays[1]).toBeGreaterThanOrEqual(10);
    expect(delays[2]).toBeGreaterThanOrEqual(20);
    expect(delays[3]).toBeLessThanOrEqual(40);
    queue.add('ns/flaky');
    await waitFor('the sixth call fails', () => delays.length === 5);
    expect(delays[4]).toBeLessThanOrEqual(10);
  });

  test('the delay a run returns schedules the next run; the earliest of several schedules wins', async () => {
    const runsAt: number[] = [];
    const start = Date.now();
    queue = queueWith(async () => {
      runsAt.push(Date.now() - start);
      return runsAt.length === 1 ? 50 : undefined;
    });
    queue.add('ns/a');
    await waitFor('second run from the returned delay', () => runsAt.length === 2);
    expect(runsAt[1]! - runsAt[0]!).toBeGreaterThanOrEqual(45);

    queue.addAfter('ns/a', 5000);
    queue.addAfter('ns/a', 30);
    await waitFor('third run from the earlier schedule', () => runsAt.length === 3, 2000);
  });

  test('stop waits for the key in progress and ignores later adds', async () => {
    const release = gate();
    const runs: string[] = [];
    let finished = false;
    queue = queueWith(async (key) => {
      runs.push(key);
      await release.promise;
      finished = true;
    });
    queue.add('ns/a');
    queue.add('ns/b');
    await waitFor('ns/a started', () => runs.length === 1);
    const stopped = queue.stop();
    queue.add('ns/c');
    release.open();
    await stopped;
    expect(finished).toBe(true);
    expect(runs).toEqual(['ns/a']);
  });
});

describe('Backoff', () => {
  test('doubles from min to max, jittered into [cap/2, cap], and resets', () => {
    const low = new Backoff(100, 1000, () => 0);
    expect([low.next(), low.next(), low.next(), low.next(), low.next()]).toEqual([50, 100, 200, 400, 500]);
    const high = new Backoff(100, 1000, () => 1);
    expect([high.next(), high.next(), high.next(), high.next(), high.next()]).toEqual([100, 200, 400, 800, 1000]);
    high.reset();
    expect(high.next()).toBe(100);
  });
});
