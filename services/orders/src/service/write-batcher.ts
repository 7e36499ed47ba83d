export interface WriteBatcherOptions {
  /** Most items in one flush. */
  maxBatch: number;
  /** Most flushes running at once; items submitted meanwhile wait for the next one. */
  maxInFlight: number;
  /**
   * Whether a failed flush of several items is retried one item at a time, so that one bad item does not fail
   * the others. Only for errors that prove nothing was written (the statement was rejected); never for a lost
   * connection, where the flush may have committed.
   */
  retryAlone?: (error: unknown) => boolean;
}

interface Waiting<I, O> {
  item: I;
  resolve: (output: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Smart batching of writes. Idle, a submitted item is flushed at once (no added latency). While `maxInFlight`
 * flushes run, new items wait, and the next flush takes all that arrived meanwhile (up to `maxBatch`), so the
 * per-write costs (round trip, statement, the commit's fsync) are shared by everything that queued behind it.
 * Batches grow with the load and shrink to one when it falls. (DataLoader is not this: it batches what arrives
 * within one event-loop tick, and HTTP requests arrive in different ticks.)
 */
export class WriteBatcher<I, O> {
  private readonly waiting: Waiting<I, O>[] = [];
  private inFlight = 0;

  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly options: WriteBatcherOptions,
  ) {
    if (!(options.maxBatch >= 1 && options.maxInFlight >= 1)) {
      throw new RangeError(`maxBatch (${options.maxBatch}) and maxInFlight (${options.maxInFlight}) must be at least 1`);
    }
  }

  /** Resolves with the item's output once its flush has completed, or rejects with that flush's error. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.pump();
    });
  }

  /** Items waiting for a flush, and flushes running (for metrics and tests). */
  get depth(): { waiting: number; inFlight: number } {
    return { waiting: this.waiting.length, inFlight: this.inFlight };
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async run(batch: Waiting<I, O>[]): Promise<void> {
    let outputs: O[];
    try {
      outputs = await this.flush(batch.map((w) => w.item));
      if (outputs.length !== batch.length) throw new Error(`flush returned ${outputs.length} results for ${batch.length} items`);
    } catch (error) {
      if (batch.length > 1 && this.options.retryAlone?.(error)) {
        // Rare (input is validated first), so one at a time: it must not take more connections than allowed.
        for (const waiting of batch) await this.run([waiting]);
        return;
      }
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    batch.forEach((waiting, i) => waiting.resolve(outputs[i]!));
  }
}
