import type { OutboxRecord } from '../outbox-record';

/**
 * When one published batch passed each stage, in epoch ms with sub-millisecond precision (preciseNowMs, the clock of
 * `ackedAtMs` too): where an event's time between its commit and its acknowledgement
 * went.
 */
export interface PublishTiming {
  /** The fenced read was sent to the database. */
  readStartedAtMs: number;
  /** Its rows came back. */
  readAtMs: number;
  /**
   * The batch's last message was handed to the NATS client: between the read and this, the batch waited for the
   * previous batch's sending, for each aggregate's previous publish, and for slots of the send window.
   */
  sentAtMs: number;
}

/**
 * What the relay reports as it works, for metrics (see @outbox-relay/telemetry for the Prometheus one). Calls are
 * synchronous and must be cheap; the default does nothing.
 */
export interface RelayObserver {
  /**
   * `records` were acknowledged by the stream at `ackedAtMs` (epoch ms); `duplicates` of them as duplicates.
   * `timing`: when their batch was read and sent.
   */
  published(partition: number, records: readonly OutboxRecord[], duplicates: number, ackedAtMs: number, timing?: PublishTiming): void;
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
