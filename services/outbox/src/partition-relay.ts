import type { Logger } from 'pino';
import { Backoff, delay } from './backoff';
import { LeaseLostError } from './errors';
import type { LeaseElector } from './lease';
import type { JetStreamPublisher } from './publisher';
import type { Fence, OutboxReader } from './reader';
import { WakeSignal } from './wake';

export interface PartitionRelayOptions {
  batchSize: number;
  pollMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
}

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

  constructor(
    private readonly elector: LeaseElector,
    private readonly reader: OutboxReader,
    private readonly publisher: JetStreamPublisher,
    private readonly streamReady: (signal: AbortSignal) => Promise<void>,
    private readonly instanceId: string,
    private readonly options: PartitionRelayOptions,
    private readonly logger: Logger,
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

  private leading(epoch: number): boolean {
    return !this.stopping && this.elector.isLeading(epoch);
  }

  private async publishLoop(epoch: number): Promise<void> {
    const fence: Fence = { partition: this.partition, holder: this.instanceId, epoch };
    const log = this.logger.child({ partition: fence.partition, epoch });
    const backoff = new Backoff(this.options.backoffMinMs, this.options.backoffMaxMs);
    const mayPublish = () => this.leading(epoch);
    let marking: { done: Promise<unknown>; seqs: string[] } | null = null;
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
            const wait = backoff.next();
            log.warn(
              {
                err: outcome.failure.error,
                eventId: outcome.failure.record.id,
                aggregateId: outcome.failure.record.aggregateId,
                seq: outcome.failure.record.seq,
                attempt: backoff.failures,
                retryInMs: wait,
              },
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
