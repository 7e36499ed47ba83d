import type { OutboxRecord } from '../outbox-record';

/**
 * What the relay reports as it works, for metrics (see @outbox-relay/telemetry for the Prometheus one). Calls are
 * synchronous and must be cheap; the default does nothing.
 */
export interface RelayObserver {
  /** `records` were acknowledged by the stream at `ackedAtMs` (epoch ms); `duplicates` of them as duplicates. */
  published(partition: number, records: readonly OutboxRecord[], duplicates: number, ackedAtMs: number): void;
  /** A publish failed; `permanent` when it can never succeed for that event. */
  publishFailed(partition: number, permanent: boolean): void;
  /** An event was moved to the relay dead letters. */
  deadLettered(partition: number): void;
  /** This instance started (`epoch`) or stopped (null) leading `partition`. */
  leadershipChanged(partition: number, epoch: number | null): void;
  /** Retention deleted `rows` from `table`. */
  retentionDeleted(table: string, rows: number): void;
}

export const noopRelayObserver: RelayObserver = {
  published: () => undefined,
  publishFailed: () => undefined,
  deadLettered: () => undefined,
  leadershipChanged: () => undefined,
  retentionDeleted: () => undefined,
};
