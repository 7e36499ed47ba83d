import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PublishTiming, RelayObserver } from '@outbox-relay/outbox';
import type { OutboxRecord } from '@outbox-relay/outbox/internal';
import { BATCH_SIZE_BUCKETS, LATENCY_SECONDS_BUCKETS, STAGE_SECONDS_BUCKETS } from './buckets';

/**
 * The stages of `outbox_relay_stage_seconds`, in order (PublishTiming):
 * - commit_to_read: an event's created_at to the end of the read that returned it (its transaction's own
 *   statements and commit, the NOTIFY or the poll, the wait for the loop, the read), once per event;
 * - read: the fenced read's round trip, once per batch;
 * - read_to_sent: from the read to its batch's last message handed to NATS (the previous batch's sending, each
 *   aggregate's previous publish, send-window slots), once per batch;
 * - sent_to_ack: from there to the batch's last acknowledgement, once per batch.
 */
export const RELAY_STAGES = ['commit_to_read', 'read', 'read_to_sent', 'sent_to_ack'] as const;

/** What the relay says about its partitions right now (`OutboxRelay.status().partitions`). */
export interface PartitionLeadership {
  partition: number;
  leading: boolean;
  epoch: number | null;
}

export interface RelayMetricsOptions {
  /**
   * The relay's own view of its leases, read at scrape time, so every partition shows up (0 where it does not
   * lead) and a lease whose local deadline passed reads 0 at once. Return null while the relay is not running
   * yet; the gauges then follow the leadership changes reported to the observer.
   */
  leadership?: () => readonly PartitionLeadership[] | null;
}

/**
 * The relay's Prometheus metrics, fed through the RelayObserver hook of `OutboxRelay` (pass it as `observer`).
 * Partition is the only label of the per-partition series (bounded by OUTBOX_PARTITIONS); histograms have none.
 */
export class RelayMetrics implements RelayObserver {
  private readonly publishedTotal: Counter<'partition'>;
  private readonly duplicatesTotal: Counter<'partition'>;
  private readonly batchSize: Histogram;
  private readonly publishErrors: Counter<'partition' | 'permanent'>;
  private readonly deadLetters: Counter<'partition'>;
  private readonly commitToAck: Histogram;
  /** One child per stage, bound once: commit_to_read is observed for every published event. */
  private readonly stages: Record<(typeof RELAY_STAGES)[number], { observe(seconds: number): void }>;
  private readonly transitions: Counter<'partition' | 'transition'>;
  private readonly retentionDeletedRows: Counter<'table'>;
  /** Leadership as reported through the observer: partition → epoch while leading, null after losing. */
  private readonly reported = new Map<number, number | null>();
  private readonly lastEpoch = new Map<number, number>();

  constructor(registry: Registry, options: RelayMetricsOptions = {}) {
    const registers = [registry];
    this.publishedTotal = new Counter({
      name: 'outbox_events_published_total',
      help: 'Events this instance published and the stream acknowledged as new (re-publishes the stream dropped as duplicates are not counted).',
      labelNames: ['partition'],
      registers,
    });
    this.duplicatesTotal = new Counter({
      name: 'outbox_publish_duplicates_total',
      help: 'Events the stream acknowledged as duplicates of an earlier publish (a predecessor published them but could not mark them).',
      labelNames: ['partition'],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'outbox_publish_batch_size_events',
      help: 'Events acknowledged per publish batch.',
      buckets: BATCH_SIZE_BUCKETS,
      registers,
    });
    this.publishErrors = new Counter({
      name: 'outbox_publish_errors_total',
      help: 'Failed publishes; permanent="true" when the event can never be published (too large), else transient (NATS away, timeout).',
      labelNames: ['partition', 'permanent'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'outbox_dead_letters_total',
      help: 'Events moved to the relay dead letters (outbox_dead_letters) after repeated permanent failures.',
      labelNames: ['partition'],
      registers,
    });
    this.commitToAck = new Histogram({
      name: 'outbox_commit_to_ack_seconds',
      help: "Time from an event's outbox row (created_at, the writing transaction's start on the database clock) to the stream's acknowledgement (relay clock).",
      buckets: LATENCY_SECONDS_BUCKETS,
      registers,
    });
    const stages = new Histogram({
      name: 'outbox_relay_stage_seconds',
      help: 'Where publishing time goes, per stage: commit_to_read per event (created_at, on the database clock, to the read that returned it), read, read_to_sent and sent_to_ack per batch.',
      labelNames: ['stage'],
      buckets: STAGE_SECONDS_BUCKETS,
      registers,
    });
    this.stages = {
      commit_to_read: stages.labels('commit_to_read'),
      read: stages.labels('read'),
      read_to_sent: stages.labels('read_to_sent'),
      sent_to_ack: stages.labels('sent_to_ack'),
    };
    this.transitions = new Counter({
      name: 'outbox_relay_leader_transitions_total',
      help: 'Leadership changes of this instance per partition: transition="acquired" or "lost".',
      labelNames: ['partition', 'transition'],
      registers,
    });
    this.retentionDeletedRows = new Counter({
      name: 'outbox_retention_deleted_rows_total',
      help: 'Rows deleted by retention, by table (outbox, outbox_dead_letters, inbox, inbox_dead_letters).',
      labelNames: ['table'],
      registers,
    });
    const leadership = () => this.leadershipNow(options.leadership);
    new Gauge({
      name: 'outbox_relay_is_leader',
      help: '1 while this instance holds the lease of the partition, else 0.',
      labelNames: ['partition'],
      registers,
      collect() {
        this.reset();
        for (const p of leadership()) this.set({ partition: String(p.partition) }, p.leading ? 1 : 0);
      },
    });
    new Gauge({
      name: 'outbox_relay_epoch',
      help: 'Epoch of the lease this instance holds on the partition, or last held (0 if never); grows by one per acquisition by anyone.',
      labelNames: ['partition'],
      registers,
      collect() {
        this.reset();
        for (const p of leadership()) this.set({ partition: String(p.partition) }, p.epoch ?? 0);
      },
    });
  }

  published(partition: number, records: readonly OutboxRecord[], duplicates: number, ackedAtMs: number, timing?: PublishTiming): void {
    const labels = { partition: String(partition) };
    this.publishedTotal.inc(labels, records.length - duplicates);
    if (duplicates > 0) this.duplicatesTotal.inc(labels, duplicates);
    this.batchSize.observe(records.length);
    // Database and relay clocks may disagree by a little; a negative latency is clock skew, not speed.
    const seconds = (fromMs: number, toMs: number) => Math.max(0, toMs - fromMs) / 1000;
    for (const record of records) {
      const createdAtMs = record.createdAt.getTime();
      this.commitToAck.observe(seconds(createdAtMs, ackedAtMs));
      if (timing) this.stages.commit_to_read.observe(seconds(createdAtMs, timing.readAtMs));
    }
    if (timing) {
      this.stages.read.observe(seconds(timing.readStartedAtMs, timing.readAtMs));
      this.stages.read_to_sent.observe(seconds(timing.readAtMs, timing.sentAtMs));
      this.stages.sent_to_ack.observe(seconds(timing.sentAtMs, ackedAtMs));
    }
  }

  publishFailed(partition: number, permanent: boolean): void {
    this.publishErrors.inc({ partition: String(partition), permanent: String(permanent) });
  }

  deadLettered(partition: number): void {
    this.deadLetters.inc({ partition: String(partition) });
  }

  leadershipChanged(partition: number, epoch: number | null): void {
    this.reported.set(partition, epoch);
    if (epoch !== null) this.lastEpoch.set(partition, epoch);
    this.transitions.inc({ partition: String(partition), transition: epoch === null ? 'lost' : 'acquired' });
  }

  retentionDeleted(table: string, rows: number): void {
    this.retentionDeletedRows.inc({ table }, rows);
  }

  private leadershipNow(source: RelayMetricsOptions['leadership']): PartitionLeadership[] {
    const live = source?.() ?? null;
    const fromRelay = live?.map((p) => ({ ...p, epoch: p.epoch ?? this.lastEpoch.get(p.partition) ?? null }));
    if (fromRelay) {
      for (const p of fromRelay) if (p.epoch !== null) this.lastEpoch.set(p.partition, p.epoch);
      return fromRelay;
    }
    return [...this.reported].map(([partition, epoch]) => ({ partition, leading: epoch !== null, epoch: epoch ?? this.lastEpoch.get(partition) ?? null }));
  }
}
