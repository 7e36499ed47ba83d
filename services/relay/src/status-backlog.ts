import { performance } from 'node:perf_hooks';
import type { PartitionBacklog, PartitionStatus, RelayStatus } from '@outbox-relay/outbox';
import type { Logger } from 'pino';

/** A backlog read and how old it is. */
export interface BacklogReading {
  readAgoMs: number;
  partitions: readonly PartitionBacklog[];
}

/**
 * The outbox's backlog per partition for `/status`, read in the background: `current()` answers at once with the
 * last reading and starts a new read when that one is older than `maxAgeMs`. The operator reads `/status` to see
 * whether a pod answers, so a slow or unreachable database must not make it look like one that does not; a
 * reading that cannot be refreshed simply grows old, and says how old.
 */
export class StatusBacklog {
  private last: { at: number; partitions: readonly PartitionBacklog[] } | null = null;
  private reading: Promise<void> | null = null;

  constructor(
    private readonly read: () => Promise<PartitionBacklog[]>,
    private readonly maxAgeMs: number,
    private readonly logger: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  current(): BacklogReading | null {
    const now = this.now();
    if (!this.last || now - this.last.at >= this.maxAgeMs) this.refresh();
    return this.last && { readAgoMs: Math.round(now - this.last.at), partitions: this.last.partitions };
  }

  /** The read in flight, if any (for tests and shutdown). */
  settled(): Promise<void> {
    return this.reading ?? Promise.resolve();
  }

  private refresh(): void {
    if (this.reading) return;
    const startedAt = this.now();
    this.reading = this.read()
      .then((partitions) => {
        this.last = { at: startedAt, partitions };
      })
      .catch((error: unknown) => this.logger.warn({ err: error }, 'cannot read the backlog for /status; reporting the last reading'))
      .finally(() => {
        this.reading = null;
      });
  }
}

/** A partition of the relay process's `/status`: the relay's own view and the backlog it has to publish. */
export interface PartitionProcessStatus extends PartitionStatus {
  /** Unpublished events of the partition at the last backlog reading; null before the first one. */
  pending: number | null;
  /** Age of its oldest unpublished event now (database clock at the reading, plus the reading's age); 0 when none. */
  oldestPendingAgeMs: number | null;
}

export interface RelayProcessStatus extends Omit<RelayStatus, 'partitions'> {
  partitions: PartitionProcessStatus[];
  /** Age of the backlog reading the partitions' `pending` come from; null before the first one. */
  backlogReadAgoMs: number | null;
}

export function statusWithBacklog(status: RelayStatus, backlog: BacklogReading | null): RelayProcessStatus {
  return {
    ...status,
    backlogReadAgoMs: backlog?.readAgoMs ?? null,
    partitions: status.partitions.map((p) => {
      const b = backlog?.partitions.find((x) => x.partition === p.partition);
      if (!backlog || !b) return { ...p, pending: null, oldestPendingAgeMs: null };
      const oldest = b.pending > 0 ? Math.round(b.oldestPendingAgeSeconds * 1000) + backlog.readAgoMs : 0;
      return { ...p, pending: b.pending, oldestPendingAgeMs: oldest };
    }),
  };
}
