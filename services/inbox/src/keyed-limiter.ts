/**
 * Runs tasks with at most `limit` in flight, and tasks of one key strictly one after another in submission order.
 * `run` resolves once the task has been *started* (so a producer loop applies back-pressure), not finished.
 */
export class KeyedLimiter {
  private inFlight = 0;
  private readonly tails = new Map<string, Promise<void>>();
  private slotFreed: (() => void) | null = null;
  private all = new Set<Promise<void>>();

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be a positive integer, got ${limit}`);
  }

  async run(key: string, task: () => Promise<void>): Promise<void> {
    while (this.inFlight >= this.limit) await new Promise<void>((resolve) => (this.slotFreed = resolve));
    this.inFlight++;
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(task).finally(() => {
      this.inFlight--;
      this.all.delete(current);
      if (this.tails.get(key) === current) this.tails.delete(key);
      const wake = this.slotFreed;
      this.slotFreed = null;
      wake?.();
    });
    this.tails.set(key, current);
    this.all.add(current);
  }

  /** Resolves when every started task has finished. */
  async idle(): Promise<void> {
    while (this.all.size > 0) await Promise.all([...this.all]);
  }
}
