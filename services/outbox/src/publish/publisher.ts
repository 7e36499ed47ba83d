import type { MsgHdrs } from '@nats-io/nats-core';
import type { AckedPublisher, PubAck } from './pub-acks';
import type { OutboxRecord } from '../outbox-record';
import { ConfigError, OutboxError } from '../errors';
import { buildMessageHeaders, type MessageHeaderOptions } from './message-headers';
import type { MessageHeaderMode } from '../config';
import { JetStreamApiCode } from './jetstream-codes';
import { traceSend } from '../messaging-spans';
import { SendWindow } from './send-window';
import { preciseNowMs } from '../precise-clock';

/**
 * JetStream API errors about one message, whatever the stream's state: larger than the stream's max_msg_size
 * (10054), a failed expectation the message carried (10070 wrong last msg id, 10071 wrong last sequence, 10164
 * wrong last sequence per subject) or a roll-up the stream does not allow (10115). Errors about the stream
 * (10060 wrong stream, storage full, no stream) concern every event and are retried instead.
 */
const PER_MESSAGE_API_ERRORS = new Map<number, string>([
  [JetStreamApiCode.messageTooLarge, 'the message is larger than the stream allows'],
  [JetStreamApiCode.wrongLastMsgId, 'a Nats-Expected-Last-Msg-Id expectation failed'],
  [JetStreamApiCode.wrongLastSequence, 'a Nats-Expected-Last-Sequence expectation failed'],
  [JetStreamApiCode.rollupNotPermitted, 'the stream does not allow roll-ups'],
  [JetStreamApiCode.wrongLastSubjectSequence, 'a Nats-Expected-Last-Subject-Sequence expectation failed'],
]);

/**
 * The event cannot be turned into a NATS message at all (the client refuses a header value, a subject token):
 * every retry would throw the same way. Rows written through `enqueue` never get here (it refuses such values);
 * rows written by older versions or by hand can.
 */
export class UnpublishableEventError extends OutboxError {
  readonly eventId: string;
  constructor(eventId: string, cause: unknown) {
    super(`event ${eventId} cannot be sent as a NATS message: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.eventId = eventId;
  }
}

/**
 * Why publishing `error`'s event can never succeed, or null when a retry may (NATS away, timeouts, no stream
 * yet). Only errors about the event itself count: a stream-wide problem (wrong stream, no responders) would
 * otherwise dead-letter every event. Measured with @nats-io 3.3.1 against nats-server 2.9.
 */
export function permanentPublishError(error: unknown): string | null {
  if (error instanceof UnpublishableEventError) return error.message;
  const e = error as { name?: string; code?: unknown; message?: string } | null;
  if (!e || typeof e !== 'object') return null;
  if (e.name === 'JetStreamApiError' && typeof e.code === 'number' && PER_MESSAGE_API_ERRORS.has(e.code)) {
    return `stream rejected the message (${PER_MESSAGE_API_ERRORS.get(e.code)}): ${e.message}`;
  }
  if (e.name === 'InvalidArgumentError' && /max_payload/.test(e.message ?? '')) return `NATS refused the message: ${e.message}`;
  return null;
}

export interface PublishOutcome {
  /** Events the stream acknowledged (stored now or earlier: duplicates count as acknowledged). */
  acked: OutboxRecord[];
  /** Of `acked`, how many the stream reported as duplicates of an earlier publish. */
  duplicates: number;
  /** The first failure; events after it in the batch were not published or not confirmed. */
  failure?: { record: OutboxRecord; error: unknown };
  /** True when `mayPublish` turned false mid-batch (lease lost or stopping). */
  interrupted: boolean;
  /** When the batch's sending ended (its last message handed to the client), in preciseNowMs' clock. */
  sentAtMs: number;
}

/** Told of every message as it is handed to NATS and when its acknowledgement gives its stream sequence. */
export interface SendTracker {
  sent(outboxSeq: string): void;
  acked(outboxSeq: string, streamSeq: number): void;
}

export interface PublisherOptions {
  stream: string;
  subjectPrefix: string;
  /** Which headers each message gets (see buildMessageHeaders). Default `outbox`. */
  messageHeaders?: MessageHeaderMode;
  /** The CloudEvents `source` (modes `cloudevents` and `both`); required there. */
  cloudEventsSource?: string;
  /**
   * At most this many messages sent and not yet acknowledged, over all sessions of this publisher (all partitions
   * of a relay): see SendWindow. Absent: only the batches bound it.
   */
  sendWindow?: number;
}

/**
 * Publishes a batch to JetStream with many publishes in flight, and these rules:
 * - `Nats-Msg-Id` = event id, so a re-publish inside the duplicate window is dropped by the server;
 * - at most one event per aggregate in flight: the next event of an aggregate goes out only after the previous
 *   one's ack. If an earlier publish fails while a later one succeeds (e.g. a publish lost in a reconnect while
 *   the next one, buffered, is delivered), only events of *other* aggregates can have overtaken it, so the
 *   stream never holds one aggregate's events out of commit order;
 * - after the first failure nothing more is sent; the caller retries from the first unacknowledged event;
 * - `mayPublish()` is checked before every send (the lease's local deadline), so a paused leader stops.
 */
export class JetStreamPublisher {
  private readonly headerOptions: MessageHeaderOptions;
  private readonly window: SendWindow | undefined;

  constructor(
    private readonly sender: AckedPublisher,
    private readonly options: PublisherOptions,
  ) {
    const mode = options.messageHeaders ?? 'outbox';
    if (mode !== 'outbox' && !options.cloudEventsSource) {
      throw new ConfigError([{ path: 'cloudEventsSource', message: `is required when messageHeaders is ${mode}` }]);
    }
    this.headerOptions = { mode, cloudEventsSource: options.cloudEventsSource ?? '' };
    this.window = options.sendWindow === undefined ? undefined : new SendWindow(options.sendWindow);
  }

  subjectOf(record: Pick<OutboxRecord, 'aggregateType' | 'eventType'>): string {
    return `${this.options.subjectPrefix}.${record.aggregateType}.${record.eventType}`;
  }

  /** A publishing session for one leader term (see PublishSession); batches published in it may overlap. */
  session(tracker?: SendTracker): PublishSession {
    return new PublishSession(this.sender, (record) => this.subjectOf(record), (record) => this.headersOf(record), tracker, this.window);
  }

  /** Messages sent and not yet settled, when a send window is set (else null). */
  get inFlight(): number | null {
    return this.window?.inFlight ?? null;
  }

  /** The highest stream sequence acknowledged to this publisher's sender so far. */
  get highestAckedSeq(): number {
    return this.sender.highestSeq;
  }

  /** Publishes one batch on its own (a session of one batch). */
  publishBatch(records: readonly OutboxRecord[], mayPublish: () => boolean): Promise<PublishOutcome> {
    return this.session().publishBatch(records, mayPublish);
  }

  /** The message headers of one event, in this publisher's mode (see buildMessageHeaders). */
  headersOf(record: OutboxRecord): MsgHdrs {
    return buildMessageHeaders(record, this.headerOptions);
  }
}

/**
 * The publishing state of one leader term, shared by the batches published in it so that batch N+1 can be sent
 * while batch N's last acknowledgements are still arriving:
 * - sending phases run one batch after the other: batch N+1 starts sending only once batch N has *sent* (or
 *   given up on) every event, so each of N's events is registered below before any of N+1's looks for it;
 * - the last publish of each aggregate still in flight: an aggregate's next event waits for it, across batches;
 * - the end of the session: after the first failure, or once `mayPublish()` said no, no batch of the session
 *   sends anything more, so the caller resumes from the first unacknowledged event with a new session, and
 *   events a later batch was given (read while an earlier one was in flight) never overtake unsent ones.
 * Memory is bounded by what is in flight: an aggregate's entry goes when its last publish settles.
 */
export class PublishSession {
  failure: { record: OutboxRecord; error: unknown } | undefined;
  /** True once a batch stopped because `mayPublish()` said no. */
  interrupted = false;
  private readonly lastByAggregate = new Map<string, Promise<void>>();
  /** Resolves when the sending phase of the last batch started in this session is over. */
  private sendingDone: Promise<void> = Promise.resolve();

  constructor(
    private readonly sender: AckedPublisher,
    private readonly subjectOf: (record: OutboxRecord) => string,
    private readonly headersOf: (record: OutboxRecord) => MsgHdrs,
    private readonly tracker?: SendTracker,
    /** Shared with the other sessions of the publisher: a slot per message until it settles. */
    private readonly window?: SendWindow,
  ) {}

  /** Publishes `records` in order (see the class comment); each message is sent in its own span (traceSend). */
  publishBatch(records: readonly OutboxRecord[], mayPublish: () => boolean): Promise<PublishOutcome> {
    return this.publishInOrder(records, mayPublish);
  }

  /**
   * Hands one event to the sender. Whatever goes wrong, thrown or rejected, comes back as this event's rejection:
   * a throw while building the message (a header value the client refuses) is this event's permanent failure, so
   * it is retried and dead-lettered like any other and never escapes the publishing loop.
   */
  private send(record: OutboxRecord, mayPublish: () => boolean): Promise<PubAck> {
    let subject: string;
    let headers: MsgHdrs;
    try {
      subject = this.subjectOf(record);
      headers = this.headersOf(record);
    } catch (error) {
      return Promise.reject(new UnpublishableEventError(record.id, error));
    }
    // A message that found no stream listening (a cluster electing the stream's leader) waits for one, each new copy
    // sent only while this term may still publish, as the first was.
    // The term's lease goes with the message: the collector asks it again when the client writes to the socket, and
    // resets the connection rather than let bytes queued there out after it ended (pub-acks.ts, socket-queue.test.ts).
    return traceSend(subject, record, () => this.sender.publish(subject, record.payload, headers, mayPublish, mayPublish));
  }

  /** True when no batch of this session may send anything more. */
  get ended(): boolean {
    return this.failure !== undefined || this.interrupted;
  }

  private async publishInOrder(records: readonly OutboxRecord[], mayPublish: () => boolean): Promise<PublishOutcome> {
    const ackedFlags = new Array<boolean>(records.length).fill(false);
    let duplicates = 0;
    let failure: PublishOutcome['failure'];
    let interrupted = false;
    const inFlight: Promise<void>[] = [];
    const previousSending = this.sendingDone;
    let sendingOver!: () => void;
    this.sendingDone = new Promise<void>((resolve) => (sendingOver = resolve));

    try {
      await previousSending;
      for (let i = 0; i < records.length; i++) {
        const record = records[i]!;
        const key = `${record.aggregateType}/${record.aggregateId}`;
        const previous = this.lastByAggregate.get(key);
        if (previous) await previous;
        // After the aggregate's previous publish settled, so a slot is never held while waiting for it.
        const slot = this.window?.acquire();
        if (slot) await slot;
        if (this.ended) {
          this.window?.release();
          interrupted = failure === undefined;
          break;
        }
        if (!mayPublish()) {
          this.window?.release();
          this.interrupted = true;
          interrupted = true;
          break;
        }
        this.tracker?.sent(record.seq);
        const sent: Promise<void> = this.send(record, mayPublish)
          .then(
            (ack) => {
              ackedFlags[i] = true;
              if (ack.duplicate) duplicates++;
              this.tracker?.acked(record.seq, ack.seq);
            },
            (error: unknown) => {
              failure ??= { record, error };
              this.failure ??= failure;
            },
          )
          .then(() => {
            this.window?.release();
            if (this.lastByAggregate.get(key) === sent) this.lastByAggregate.delete(key);
          });
        this.lastByAggregate.set(key, sent);
        inFlight.push(sent);
      }
    } finally {
      sendingOver();
    }
    const sentAtMs = preciseNowMs();
    await Promise.all(inFlight);
    return { acked: records.filter((_, i) => ackedFlags[i]), duplicates, failure, interrupted, sentAtMs };
  }
}
