/**
 * A bound on the messages a relay process has sent and not yet seen acknowledged, shared by all its partitions.
 *
 * Why: a stream stores the messages of all its publishers one after the other, so a message waits behind
 * everything already sent to it (Little's law: the wait is what is in flight divided by the stream's rate). With two
 * 1000-event batches in flight per partition, eight partitions kept 16,000 messages queued in front of each new
 * one: a successor's first batch after a hand-over waited about a second for its acknowledgements (BENCHMARKS.md,
 * issue 17). Loopback needs a few hundred in flight to reach the stream's rate; more adds only waiting.
 *
 * Slots are handed out first come, first served, so a partition that starts publishing (a new term) waits behind
 * at most one window of its own process, never behind the backlog of the others.
 */
export class SendWindow {
  private used = 0;
  /** Sessions waiting for a slot (at most one per partition: a session sends one message at a time). */
  private readonly waiting: Array<() => void> = [];
  /**
   * Once the window is full, a waiting session is woken only when this many slots are free, and then takes them
   * without waiting. Woken for every single acknowledgement, it sent one message per wake-up, and the client wrote
   * each to the socket on its own: a fifth of the relay's CPU went to socket writes in a drain (BENCHMARKS.md,
   * issue 17). A sixteenth of the window (31 of 500) costs a message at most that many acknowledgements of wait.
   */
  readonly wakeAt: number;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`send window must be a positive integer, got ${size}`);
    this.wakeAt = Math.max(1, Math.floor(size / 16));
  }

  /** Takes a slot: null when one was free (taken at once, no allocation), else resolves once one is passed on. */
  acquire(): Promise<void> | null {
    if (this.used < this.size && this.waiting.length === 0) {
      this.used++;
      return null;
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /**
   * Gives a slot back (the message settled, or was never sent). Once `wakeAt` are free the waiters get one each,
   * oldest first; a woken session takes the others through acquire() while no one else waits.
   */
  release(): void {
    this.used--;
    if (this.waiting.length === 0 || this.size - this.used < this.wakeAt) return;
    while (this.waiting.length > 0 && this.used < this.size) {
      this.used++;
      this.waiting.shift()!();
    }
  }

  /** Messages sent and not yet settled. */
  get inFlight(): number {
    return this.used;
  }
}
