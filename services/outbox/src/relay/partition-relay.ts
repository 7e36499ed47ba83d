import { NoRespondersError } from '@nats-io/nats-core';
import { Backoff, childLogger, FailureLog, type Logger } from '@outbox-relay/runtime';
import { LeaseLostError } from '../errors';
import { JetStreamApiCode, jetStreamApiCode } from '../publish/jetstream-codes';
import type { AcquiredStreamCheck, LeaseElector } from '../election/lease';
import { MarkQueue } from './mark-queue';
import type { RelayObserver } from './observer';
import { permanentPublishError, type JetStreamPublisher, type PublishOutcome } from '../publish/publisher';
import type { OutboxRecord } from '../outbox-record';
import { preciseNowMs } from '../precise-clock';
import type { Fence, OutboxReader } from './reader';
import type { StandbyFlushGate } from '../postgres/standby-flush-gate';
import { StreamCheckError, UnmarkedStreamSeqs, type StoredEvents } from '../publish/stream-check';
import { WakeSignal } from './wake';

/** What a partition needs of the stream besides publishing to it. */
export interface PartitionStream {
  /** Resolves once the stream is ensured (rejects when `signal` aborts first). */
  ready(signal: AbortSignal): Promise<void>;
  /** A publish found no stream listening (deleted under the relay): ensure it again before the next try. */
  lost(): void;
  /**
   * Which of `partition`'s events the stream holds from sequence `from` on, or from time `since` when given (just
   * its last sequence when both are null).
   */
  storedEvents(partition: number, from: number | null, since: Date | null): Promise<StoredEvents>;
}

export interface PartitionRelayOptions {
  batchSize: number;
  pollMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  /** Tries of an event that fails permanently (too large, …) before it moves to the dead letters. */
  maxPublishAttempts: number;
}

/** A batch being published, and when it was read (the start of its PublishTiming). */
interface InFlightBatch {
  seqs: string[];
  /** The final_upto its read saw (PendingBatch.finalUpto). */
  finalUpto: string;
  done: Promise<PublishOutcome>;
  readStartedAtMs: number;
  readAtMs: number;
}

/** How often a partition whose lease renewal is overdue looks whether it was renewed. */
const PAUSED_POLL_MS = 20;

/** Bound on the events whose permanent failures are being counted (only the head of a partition fails in practice). */
const MAX_TRACKED_FAILURES = 1024;
/** Marks of acknowledged batches that may be outstanding before the publishing loop waits for the oldest. */
const MARKS_QUEUED = 2;
/**
 * A term's first read asks for at most this many events; each full batch doubles it, up to the batch size. A
 * successor that takes a partition with a backlog publishes (and marks) its first events after one small round
 * trip instead of a full batch in a process that may be cold, which is the publishing pause of a hand-over.
 */
const FIRST_BATCH = 100;
/**
 * An idle partition settles its progress (OutboxReader.settleProgress) at most this often: read_upto then keeps up
 * with the seqs other partitions draw, so the next mark has few of them to look at.
 */
const IDLE_SETTLE_MS = 1000;

/**
 * Publishes one partition while its elector holds the lease. One term = one epoch = one run of `publishLoop`;
 * a new term starts only after the previous loop has ended, so two loops of one process never overlap.
 *
 * Pipeline, per term: batch N+1 is read (excluding the seqs of batch N, still in flight, and of the batch being
 * marked) and starts going out while batch N's last acknowledgements arrive; then batch N's acknowledged events
 * are marked published while N+2 is read. All batches of a term share one PublishSession, so an aggregate's next
 * event waits for its previous one's ack across batches, and after a failure nothing more is sent: the loop
 * settles both batches, marks what was acknowledged and starts again from the first unacknowledged event.
 *
 * Before the term's first publish, and again after any failure, the loop looks at the stream from the lease row's
 * `check_stream_from` and marks the events it finds there instead of publishing them again (stream-check.ts):
 * whatever happened in between (a predecessor that died before marking, marks failing for an hour, acks lost while
 * NATS was away), no event is stored twice, inside the stream's duplicate window or long after it.
 */
export class PartitionRelay {
  readonly wake = new WakeSignal();
  /** Ends a backoff early: NATS is back, or the relay stops. */
  readonly retryNow = new WakeSignal();
  private term: Promise<void> | null = null;
  private stopping = false;
  private readonly stopSignal = new AbortController();
  private steppingDown: number | null = null;
  private handingOver: { epoch: number; over: boolean; done: Promise<number | null> } | null = null;
  /** The last term that ended handing over with every event it sent marked: its release clears the stream check. */
  private endedClean: number | null = null;
  /** Events this partition moved to the dead letters since start. */
  deadLettered = 0;

  constructor(
    private readonly elector: LeaseElector,
    private readonly reader: OutboxReader,
    private readonly publisher: JetStreamPublisher,
    private readonly stream: PartitionStream,
    private readonly instanceId: string,
    private readonly options: PartitionRelayOptions,
    private readonly logger: Logger,
    private readonly observer: RelayObserver,
    /** Shared by the relay's partitions: a NATS or database outage is one line for all of them. */
    private readonly failures: FailureLog = new FailureLog(logger, 'publishing'),
    /** When set, a read batch is published only once enough standbys have flushed it (no phantom events). */
    private readonly standbys: StandbyFlushGate | null = null,
  ) {
    elector.on('elected', (epoch, streamCheck) => {
      const previous = this.term;
      this.term = (async () => {
        await previous;
        await this.publishLoop(epoch, streamCheck);
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
    this.retryNow.set();
    await this.term;
  }

  /**
   * Graceful switchover of the term `epoch` (default: the current one): stop sending, let the batch in flight be
   * acknowledged and marked, then release the lease so a successor takes over at once. Returns the epoch given
   * up, or null when not leading. Idempotent: a request repeated while the hand-over runs (the step-down flag is
   * seen at every renewal, a rebalance at every balance check) joins the one under way.
   */
  stepDown(epoch: number | null | undefined = this.elector.epoch): Promise<number | null> {
    if (epoch === null || epoch === undefined) return Promise.resolve(null);
    if (this.handingOver?.epoch === epoch && !this.handingOver.over) return this.handingOver.done;
    if (!this.elector.isLeading(epoch)) return Promise.resolve(null);
    this.steppingDown = epoch;
    this.wake.set();
    const handOver: { epoch: number; over: boolean; done: Promise<number | null> } = { epoch, over: false, done: Promise.resolve(null) };
    handOver.done = (async () => {
      try {
        await this.term;
        return (await this.elector.release(epoch, { nothingUnmarked: this.endedClean === epoch })) ? epoch : null;
      } finally {
        handOver.over = true;
      }
    })();
    this.handingOver = handOver;
    return handOver.done;
  }

  /** The epoch being handed over right now, if any. */
  get handingOverEpoch(): number | null {
    return this.handingOver && !this.handingOver.over ? this.handingOver.epoch : null;
  }

  /** May send now: the term is on and the lease's local deadline has not passed. */
  private leading(epoch: number): boolean {
    return this.termOn(epoch) && this.elector.isLeading(epoch);
  }

  /**
   * The term goes on while the elector still holds `epoch`. Past the local deadline (a renewal is late: a busy
   * pool, a slow database) it only pauses: a renewal that succeeds proves the lease never expired, so nobody else
   * can have taken over and publishing resumes under the same epoch; a lost lease ends the term.
   */
  private termOn(epoch: number): boolean {
    return !this.stopping && this.steppingDown !== epoch && this.elector.holds(epoch);
  }

  /** Waits `ms` before a retry, or less when NATS came back or the relay stops. */
  private async backOff(ms: number): Promise<void> {
    if (this.stopSignal.signal.aborted) return;
    await this.retryNow.wait(ms);
  }

  /**
   * Looks in the stream from where the lease row says unmarked events may be stored, marks those found, and moves
   * the row's mark to the stream's end (so a crash before the next mark is looked at from there). Nothing of this
   * term is in flight when it runs.
   */
  private async checkStream(fence: Fence, unmarked: UnmarkedStreamSeqs, log: Logger): Promise<void> {
    await this.stream.ready(this.stopSignal.signal);
    const { from, since } = await this.reader.streamCheckFrom(fence);
    const stored = await this.stream.storedEvents(fence.partition, from, since);
    const marked = await this.reader.settleStreamCheck(fence, stored.ids, stored.lastSeq + 1);
    unmarked.clear();
    if (from !== null || since !== null) {
      const found = { from, since, lastSeq: stored.lastSeq, scanned: stored.scanned, found: stored.ids.length, marked };
      if (stored.streamReset) log.warn(found, 'stream holds fewer messages than the lease row expects (recreated or purged); nothing to find');
      else log.info(found, 'looked in the stream for events stored but not marked');
    }
  }

  private async publishLoop(epoch: number, acquired: AcquiredStreamCheck): Promise<void> {
    const fence: Fence = { partition: this.partition, holder: this.instanceId, epoch };
    const log = childLogger(this.logger, { partition: fence.partition, epoch });
    const backoff = new Backoff(this.options.backoffMinMs, this.options.backoffMaxMs);
    const key = String(fence.partition);
    const failures = {
      failed: (error: unknown, context: Record<string, unknown>) => this.failures.failed(error, { partition: fence.partition, epoch, ...context }, key),
      succeeded: () => this.failures.succeeded({ partition: fence.partition }, key),
      forget: () => this.failures.forget(key),
    };
    const mayPublish = () => this.leading(epoch);
    const permanentFailures = new Map<string, number>();
    const unmarked = new UnmarkedStreamSeqs(() => this.publisher.highestAckedSeq);
    let session = this.publisher.session(unmarked);
    let inFlight: InFlightBatch | null = null;
    /**
     * The highest seq this session's reads returned and sent: the next read goes on after it (null: from the lease
     * row). Back to null whenever the session's unmarked batches are dropped, so a read never starts past an event
     * that is neither published nor in flight.
     */
    let cursor: string | null = null;
    let settledAtMs = preciseNowMs();
    let limit = Math.min(FIRST_BATCH, this.options.batchSize);
    /**
     * Look at the stream before publishing: at the term's start and after every failure. Not at the start when the
     * acquisition found nothing to look for and recorded this process's bound instead (a clean hand-over): the
     * successor's first publish is then one read away from its acquisition.
     */
    let checkStream = !acquired.boundRecorded;
    const marks = new MarkQueue((batch, checkStreamFrom) => this.reader.markSeqsPublished(fence, batch, checkStreamFrom), MARKS_QUEUED);

    /** Waits for a batch's acknowledgements and queues their mark; returns the batch's failure, if any. */
    const finish = async (batch: InFlightBatch) => {
      const outcome = await batch.done;
      const acked = outcome.acked;
      if (acked.length > 0) {
        const timing = { readStartedAtMs: batch.readStartedAtMs, readAtMs: batch.readAtMs, sentAtMs: outcome.sentAtMs };
        this.observer.published(fence.partition, acked, outcome.duplicates, preciseNowMs(), timing);
        await marks.add(acked, unmarked.marking(acked.map((r) => r.seq)), batch.finalUpto);
        settledAtMs = preciseNowMs();
        log.debug({ count: acked.length, duplicates: outcome.duplicates, firstEventId: acked[0]!.id, lastSeq: acked[acked.length - 1]!.seq }, 'batch published');
      }
      return outcome.failure;
    };
    /** After a failed publish: dead-letter an event that keeps failing permanently, else back off. */
    const recover = async ({ record, error }: { record: OutboxRecord; error: unknown }) => {
      await marks.settleAll();
      const permanent = permanentPublishError(error);
      this.observer.publishFailed(fence.partition, permanent !== null);
      if (error instanceof NoRespondersError || jetStreamApiCode(error) === JetStreamApiCode.streamNotFound) this.stream.lost();
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
          return;
        }
      }
      const wait = backoff.next();
      failures.failed(error, { eventId: record.id, aggregateId: record.aggregateId, seq: record.seq, permanent: permanent !== null, retryInMs: wait });
      await this.backOff(wait);
    };

    log.info({}, 'publishing as leader');
    try {
      await this.stream.ready(this.stopSignal.signal);
      while (this.termOn(epoch)) {
        try {
          if (!this.leading(epoch)) {
            // Lease renewal overdue: send nothing until it is renewed (or lost, which ends the loop).
            if (inFlight) await finish(inFlight);
            inFlight = null;
            cursor = null;
            // A mark that failed leaves acknowledged events unmarked: look at the stream before publishing again.
            await marks.settleAll().catch(() => (checkStream = true));
            await this.wake.wait(PAUSED_POLL_MS);
            continue;
          }
          // A failure (or a stop) ends the whole session: settle what is in flight, then go on from the first
          // unacknowledged event with a new session (after a failure: dead letter or backoff, then a look at the
          // stream, since events whose outcome is unknown may be stored).
          if (session.ended) {
            const failure = session.failure;
            if (inFlight) await finish(inFlight);
            inFlight = null;
            cursor = null;
            session = this.publisher.session(unmarked);
            if (failure) {
              checkStream = true;
              await recover(failure);
            }
            continue;
          }
          if (checkStream) {
            await marks.settleAll();
            await this.checkStream(fence, unmarked, log);
            checkStream = false;
            cursor = null;
          }
          const exclude = [...(inFlight?.seqs ?? []), ...marks.seqs];
          // Unmarked batches: look behind the cursor from the final_upto the oldest one's read saw (final_upto only
          // grows, so it is the lowest). None: nothing passed is unrecorded, the lease row's final_upto will do.
          const rescanFrom = marks.oldestFinalUpto ?? inFlight?.finalUpto ?? null;
          const readStartedAtMs = preciseNowMs();
          const read = await this.reader.readPendingBatch(fence, limit, exclude, { from: cursor, rescanFrom });
          const readAtMs = preciseNowMs();
          if (read === null) throw new LeaseLostError(fence.partition, epoch, 'fenced read found another holder');
          const records = read.records;
          // Read again after the wait (the term may have ended meanwhile): nothing was sent from this read.
          if (records.length > 0 && this.standbys && read.walLsn !== null && !(await this.standbys.reached(read.walLsn, mayPublish))) continue;
          if (records.length === limit) limit = Math.min(limit * 2, this.options.batchSize);
          if (records.length === 0) {
            if (inFlight) {
              await finish(inFlight);
              inFlight = null;
            } else if (marks.pending) {
              await marks.settleAll();
            } else {
              backoff.reset();
              failures.succeeded();
              if (readAtMs - settledAtMs >= IDLE_SETTLE_MS) {
                await this.reader.settleProgress(fence);
                settledAtMs = preciseNowMs();
                cursor = null;
              }
              await this.wake.wait(this.options.pollMs);
            }
            continue;
          }
          const batch: InFlightBatch = {
            seqs: records.map((r) => r.seq),
            finalUpto: read.finalUpto ?? '0',
            done: session.publishBatch(records, mayPublish),
            readStartedAtMs,
            readAtMs,
          };
          cursor = records[records.length - 1]!.seq;
          const previous = inFlight;
          inFlight = batch;
          if (previous && !(await finish(previous)) && !session.ended) {
            backoff.reset();
            failures.succeeded();
          }
        } catch (error) {
          // Whatever was in flight settles before anything is read again; what it got stored is found by the look
          // at the stream that follows, and marked instead of published again.
          await inFlight?.done.catch(() => undefined);
          inFlight = null;
          cursor = null;
          marks.clear();
          session = this.publisher.session(unmarked);
          checkStream = true;
          if (error instanceof LeaseLostError) throw error;
          // The look found no stream (deleted, e.g. while NATS was away): ensure it again before the next look, or
          // every look fails the same way and the partition never publishes again.
          if (error instanceof StreamCheckError && jetStreamApiCode(error.cause) === JetStreamApiCode.streamNotFound) this.stream.lost();
          const wait = backoff.next();
          failures.failed(error, { retryInMs: wait });
          await this.backOff(wait);
        }
      }
      if (inFlight) await finish(inFlight);
      await marks.settleAll();
      // Everything sent was acknowledged and marked: a successor has nothing to look for in the stream. A hand-over
      // says so in its release (one statement less between the last publish and the successor's first).
      if (unmarked.empty && !checkStream) {
        if (this.steppingDown === epoch) this.endedClean = epoch;
        else await this.reader.settleStreamCheck(fence, [], null);
      }
      log.info({ reason: this.stopping ? 'stopping' : 'lease no longer held' }, 'stopped publishing');
    } catch (error) {
      log.warn({ err: error }, 'stopped publishing: lease lost');
    } finally {
      failures.forget();
    }
  }
}
