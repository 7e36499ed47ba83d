import { performance } from 'node:perf_hooks';
import type { OutboxRecord } from '../outbox-record';
import type { PublishTiming, RelayObserver } from './observer';

/** One partition's term as `/status` reports it; ages in ms, measured on this process's monotonic clock. */
export interface TermProgress {
  /** Since this instance began leading the partition (this term). */
  leadingForMs: number;
  /** Since the last acknowledged publish of this term; null when nothing was acknowledged yet in it. */
  publishedAgoMs: number | null;
}

/**
 * Remembers, per partition this instance leads, when its term began and when the stream last acknowledged one of
 * its events. With the backlog (are events waiting, and for how long) this tells a stalled leader (it holds the
 * lease and renews it, but publishes nothing while events wait) from an idle one or a busy one, which the
 * operator must not confuse: only the stalled one needs it, since an expired lease is taken over without it.
 * Ages rather than timestamps, so that no reader has to trust this pod's wall clock. Forwards every call to
 * `inner` (the metrics).
 */
export class ProgressTracker implements RelayObserver {
  private readonly terms = new Map<number, { since: number; lastAck: number | null }>();

  constructor(
    private readonly inner: RelayObserver,
    private readonly now: () => number = () => performance.now(),
  ) {}

  published(partition: number, records: readonly OutboxRecord[], duplicates: number, ackedAtMs: number, timing?: PublishTiming): void {
    const term = this.terms.get(partition);
    if (term && records.length > 0) term.lastAck = this.now();
    this.inner.published(partition, records, duplicates, ackedAtMs, timing);
  }

  publishFailed(partition: number, permanent: boolean): void {
    this.inner.publishFailed(partition, permanent);
  }

  deadLettered(partition: number): void {
    // A dead-lettered event leaves the backlog too: that is progress, not a stall.
    const term = this.terms.get(partition);
    if (term) term.lastAck = this.now();
    this.inner.deadLettered(partition);
  }

  leadershipChanged(partition: number, epoch: number | null): void {
    if (epoch === null) this.terms.delete(partition);
    else this.terms.set(partition, { since: this.now(), lastAck: null });
    this.inner.leadershipChanged(partition, epoch);
  }

  retentionDeleted(table: string, rows: number): void {
    this.inner.retentionDeleted(table, rows);
  }

  /** The current term of `partition`, or null when this instance does not lead it. */
  progress(partition: number): TermProgress | null {
    const term = this.terms.get(partition);
    if (!term) return null;
    const now = this.now();
    return { leadingForMs: Math.round(now - term.since), publishedAgoMs: term.lastAck === null ? null : Math.round(now - term.lastAck) };
  }
}
