import type { OutboxRecord } from '../outbox-record';
import type { MarkedBatch } from './reader';

interface QueuedMark {
  seqs: readonly string[];
  /** The final_upto the batch's read saw (PendingBatch.finalUpto). */
  finalUpto: string;
  /** Resolves with the mark's error, or null; never rejects. */
  done: Promise<unknown>;
}

/**
 * Marks acknowledged batches published in the background, one statement after the other in batch order, so the
 * publishing loop goes on while a mark commits; it waits only while `maxQueued` marks are outstanding. (A mark of
 * 1000 rows and its commit took about as long as the acknowledgements of the next batch, and the loop used to wait
 * for it every time.) Marks stay serial: each also updates the lease row's progress, so they would queue on its row
 * lock anyway, and progress never goes backwards.
 */
export class MarkQueue {
  private queue: QueuedMark[] = [];
  private tail: Promise<unknown> = Promise.resolve(null);

  constructor(
    /** `checkStreamFrom`: where a successor looks in the stream once this mark committed (see stream-check.ts). */
    private readonly markPublished: (batch: MarkedBatch, checkStreamFrom: number) => Promise<unknown>,
    private readonly maxQueued: number,
  ) {}

  /** Seqs of the batches queued or being marked: a read must leave them out. */
  get seqs(): string[] {
    return this.queue.flatMap((m) => m.seqs);
  }

  /**
   * The final_upto the oldest queued batch's read saw: a read must look behind its cursor from there, for events
   * committed late whose seqs that read passed and whose mark has not recorded them yet. Null when none is queued.
   */
  get oldestFinalUpto(): string | null {
    return this.queue[0]?.finalUpto ?? null;
  }

  get pending(): boolean {
    return this.queue.length > 0;
  }

  /**
   * Queues a mark of `records`, after waiting for the oldest while the queue is full. Throws a settled mark's error.
   * Only their seqs and last id are kept: a queued mark does not hold the events' payloads in memory.
   */
  async add(records: readonly OutboxRecord[], checkStreamFrom: number, finalUpto: string): Promise<void> {
    while (this.queue.length >= this.maxQueued) await this.settleOldest();
    const last = records[records.length - 1];
    if (!last) return;
    const batch: MarkedBatch = { seqs: records.map((r) => r.seq), lastSeq: last.seq, lastId: last.id };
    const done = this.tail.then(() => this.markPublished(batch, checkStreamFrom)).then(
      () => null,
      (error: unknown) => error,
    );
    this.tail = done;
    this.queue.push({ seqs: batch.seqs, finalUpto, done });
  }

  /** Waits for every queued mark; throws the first error (the queue is empty afterwards either way). */
  async settleAll(): Promise<void> {
    let first: unknown = null;
    while (this.queue.length > 0) {
      try {
        await this.settleOldest();
      } catch (error) {
        first ??= error;
      }
    }
    if (first !== null) throw first;
  }

  /**
   * Forgets the queued marks (after a failure). Their events stay pending; before anything is published again the
   * relay looks in the stream from the last committed mark's `checkStreamFrom` and marks what it finds there.
   */
  clear(): void {
    this.queue = [];
  }

  private async settleOldest(): Promise<void> {
    const oldest = this.queue[0];
    if (!oldest) return;
    const error = await oldest.done;
    if (this.queue[0] === oldest) this.queue.shift();
    if (error) throw error;
  }
}
