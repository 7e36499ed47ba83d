/**
 * Epoch ms with sub-millisecond precision (performance.timeOrigin + performance.now()): the clock of the relay's
 * stage timings (PublishTiming) and acknowledgement times. Date.now() has whole milliseconds, too coarse for stages
 * that take a fraction of one.
 */
export const preciseNowMs = (): number => performance.timeOrigin + performance.now();
