/** Capped exponential backoff with full jitter, and a delay that an abort ends early. */
import { Backoff, delay } from '@outbox-relay/runtime';

it('doubles per failure up to the cap, jittered into [cap/2, cap], and starts over after reset', () => {
  const low = new Backoff(100, 1000, () => 0);
  const high = new Backoff(100, 1000, () => 1);
  expect([1, 2, 3, 4, 5].map(() => low.next())).toEqual([50, 100, 200, 400, 500]);
  expect([1, 2, 3, 4, 5].map(() => high.next())).toEqual([100, 200, 400, 800, 1000]);
  expect(high.failures).toBe(5);
  high.reset();
  expect(high.next()).toBe(100);
});

it('ends a delay at once when its signal aborts', async () => {
  const abort = new AbortController();
  const waited = delay(3_600_000, abort.signal);
  abort.abort();
  await expect(waited).resolves.toBeUndefined();
});
