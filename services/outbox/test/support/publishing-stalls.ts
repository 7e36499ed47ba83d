import { noopRelayObserver, type RelayObserver } from '@outbox-relay/outbox';
import { waitFor } from '@outbox-relay/test-support';

/**
 * The relay's acknowledged batches as they come (a RelayObserver), to tell how long publishing stalled after a
 * fault: from the fault until every partition had an event committed after it acknowledged (the slowest partition
 * is the stall its aggregates see). Events committed before the fault do not count: a batch in flight can still be
 * acknowledged by a server that is going away.
 */
export class PublishingStalls {
  /** Per acknowledged batch: when, and the newest commit in it (both epoch ms, one host's clock). */
  private readonly batches: Array<{ partition: number; ackedAtMs: number; newestCreatedAtMs: number }> = [];
  acknowledged = 0;
  /** Publishes that failed (any cause; the relay retries them). */
  failures = 0;

  constructor(private readonly partitions: number) {}

  readonly observer: RelayObserver = {
    ...noopRelayObserver,
    published: (partition, records, _duplicates, ackedAtMs) => {
      let newest = 0;
      for (const record of records) newest = Math.max(newest, record.createdAt.getTime());
      this.batches.push({ partition, ackedAtMs, newestCreatedAtMs: newest });
      this.acknowledged += records.length;
    },
    publishFailed: () => {
      this.failures++;
    },
  };

  /** Milliseconds from `faultAtMs` until every partition published an event committed after it, once they all did. */
  resumedAfter(faultAtMs: number): number | undefined {
    const resumed = new Map<number, number>();
    for (const batch of this.batches) {
      if (batch.newestCreatedAtMs > faultAtMs && !resumed.has(batch.partition)) resumed.set(batch.partition, batch.ackedAtMs - faultAtMs);
    }
    return resumed.size === this.partitions ? Math.max(...resumed.values()) : undefined;
  }

  /**
   * The longest time without an acknowledgement from `faultAtMs` on (the first one counted from the fault itself):
   * the stall of a drain, where no event is committed after the fault.
   */
  longestGapAfter(faultAtMs: number): number {
    let longest = 0;
    let previous = faultAtMs;
    for (const batch of this.batches) {
      if (batch.ackedAtMs < faultAtMs) continue;
      longest = Math.max(longest, batch.ackedAtMs - previous);
      previous = batch.ackedAtMs;
    }
    return longest;
  }

  /** Waits (generously: a cluster election on a loaded host) until publishing resumed after `faultAtMs`; the stall. */
  waitForResumed(faultAtMs: number, what: string, timeoutMs = 90_000): Promise<number> {
    return waitFor(`publishing to resume after ${what}`, () => this.resumedAfter(faultAtMs), timeoutMs, 50);
  }
}
