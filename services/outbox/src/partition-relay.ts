import type { Logger } from 'pino';
import { Backoff, delay } from './backoff';
import { LeaseLostError } from './errors';
import type { LeaseElector } from './lease';
import type { RelayObserver } from './observer';
import { permanentPublishError, type JetStreamPublisher } from './publisher';
import type { Fence, OutboxReader } from './reader';
import { WakeSignal } from './wake';

export interface PartitionRelayOptions {
  batchSize: number;
  pollMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Tries of an event that fails permanently (too large, …) before it moves to the dead letters. */
  maxPublishAttempts: number;
}

/** Bound on the events whose permanent failures are being counted (only the head of a partition fails in practice). */
const MAX_TRACKED_FAILURES = 1024;

/**
 * Publishes one partition while its elector holds the lease. One term = one epoch = one run of `publishLoop`;
 * a new term starts only after the previous loop has ended, so two loops of one process never overlap.
 *
 * Pipeline: while batch N's "mark published" statement is in flight, batch N+1 is read (excluding N's seqs) and
 * published. Batch N+1 is only sent after every event of batch N was acknowledged, so per-aggregate order
 * across batches holds.
 */
export class PartitionRelay {
  readonly wake = new WakeSignal();
  private term: Promise<void> | null = null;
  private stopping = false;
  private readonly stopSignal = new AbortController();
  private steppingDown: number | null = null;
  /** Events this partition moved to the dead letters since start. */
  deadLettered = 0;

  constructor(
    private readonly elector: LeaseElector,
    private readonly reader: OutboxReader,
    private readonly publisher: JetStreamPublisher,
    private readonly streamReady: (signal: AbortSignal) => Promise<void>,
    private readonly instanceId: string,
    private readonly options: PartitionRelayOptions,
    private readonly logger: Logger,
    private readonly observer: RelayObserver,
  ) {
    elector.on('elected', (epoch) => {
      const previous = this.term;
      this.term = (async () => {
        await previous;
        await this.publishLoop(epoch);
      })();
    });
    elector.on('lost', () => this.wake.set());
  }

  get partition(): number {
    return this.elector.partition;
  }

  /** Stops after the batch in flight (acknowledged events are still marked); does not release the lease. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopSignal.abort();
    this.wake.set();
    await this.term;
  }

  /**
   * Graceful switchover of the term `epoch` (default: the current one): stop sending, let the batch in flight be
   * acknowledged and marked, then release the lease so a successor takes over at once. Returns the epoch given
   * up, or null when not leading.
   */
  async stepDown(epoch: number | null | undefined = this.elector.epoch): Promise<number | null> {
    if (epoch === null || !this.elector.isLeading(epoch)) return null;
    this.steppingDown = epoch;
    this.wake.set();
    await this.term;
    return (await this.elector.release(epoch)) ? epoch : null;
  }

  private leading(epoch: number): boolean {
    return !this.stopping && this.steppingDown !== epoch && this.elector.isLeading(epoch);
  }

  private async publishLoop(epoch: number): Promise<void> {
    const fence: Fence = { partition: this.partition, holder: this.instanceId, epoch };
    const log = this.logger.child({ partition: fence.partition, epoch });
    const backoff = new Backoff(this.options.backoffMinMs, this.options.backoffMaxMs);
    const mayPublish = () => this.leading(epoch);
    let marking: { done: Promise<unknown>; seqs: string[] } | null = null;
    const permanentFailures = new Map<string, number>();
    const settleMark = async () => {
      const current = marking;
      marking = null;
      const error = current ? await current.done : null;
      if (error) throw error;
    };
    log.info('publishing as leader');
    try {
      await this.streamReady(this.stopSignal.signal);
      while (this.leading(epoch)) {
        try {
          const records = await this.reader.readPending(fence, this.options.batchSize, marking?.seqs ?? []);
          if (records === null) throw new LeaseLostError(fence.partition, epoch, 'fenced read found another holder');
          if (records.length === 0) {
            if (marking) await settleMark();
            else await this.wake.wait(this.options.pollMs);
            continue;
          }
          const outcome = await this.publisher.publishBatch(records, mayPublish);
          await settleMark();
          if (outcome.acked.length > 0) {
            const acked = outcome.acked;
            this.observer.published(fence.partition, acked, outcome.duplicates, Date.now());
            marking = {
              seqs: acked.map((r) => r.seq),
              done: this.reader.markPublished(fence, acked).then(
                () => null,
                (error: unknown) => error,
              ),
            };
            log.debug(
              { count: acked.length, duplicates: outcome.duplicates, firstEventId: acked[0]!.id, lastSeq: acked[acked.length - 1]!.seq },
              'batch published',
            );
          }
          if (outcome.failure) {
            await settleMark();
            const { record, error } = outcome.failure;
            const permanent = permanentPublishError(error);
            this.observer.publishFailed(fence.partition, permanent !== null);
            if (permanent !== null) {
              const attempts = (permanentFailures.get(record.id) ?? 0) + 1;
              if (permanentFailures.size >= MAX_TRACKED_FAILURES) permanentFailures.clear();
              permanentFailures.set(record.id, attempts);
              if (attempts >= this.options.maxPublishAttempts) {
                const deadLetterId = await this.reader.deadLetter(fence, record, permanent, attempts);
                permanentFailures.delete(record.id);
                if (deadLetterId !== null) {
                  this.deadLettered++;
                  this.observer.deadLettered(fence.partition);
                }
                log.error(
                  { eventId: record.id, aggregateType: record.aggregateType, aggregateId: record.aggregateId, seq: record.seq, attempts, reason: permanent, deadLetterId },
                  'event can never be published; moved to the dead letters, later events of its aggregate go on',
                );
                backoff.reset();
                continue;
              }
            }
            const wait = backoff.next();
            log.warn(
              { err: error, eventId: record.id, aggregateId: record.aggregateId, seq: record.seq, attempt: backoff.failures, permanent: permanent !== null, retryInMs: wait },
              'publish failed; retrying from the first unacknowledged event',
            );
            await delay(wait, this.stopSignal.signal);
            continue;
          }
          if (!outcome.interrupted) backoff.reset();
        } catch (error) {
          marking = null;
          if (error instanceof LeaseLostError) throw error;
          const wait = backoff.next();
          log.warn({ err: error, attempt: backoff.failures, retryInMs: wait }, 'relay step failed; retrying');
          await delay(wait, this.stopSignal.signal);
        }
      }
      await settleMark();
      log.info({ reason: this.stopping ? 'stopping' : 'lease no longer held' }, 'stopped publishing');
    } catch (error) {
      log.warn({ err: error }, 'stopped publishing: lease lost');
    }
  }
}
