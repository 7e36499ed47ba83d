import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { SpanStatusCode } from '@opentelemetry/api';
import { ensureDurableConsumer, inboxEventFromMsg, withConsumerSpan, type InboxEvent } from '@outbox-relay/inbox';
import { ensureStream, type StreamOwnership } from '@outbox-relay/outbox';
import { MessagingAttributes } from '@outbox-relay/outbox/internal';
import type { ProcessLogger } from '@outbox-relay/runtime';

/**
 * One event as a handler sees it: the decoded payload plus what the headers and JetStream say about it, read by the
 * inbox's `inboxEventFromMsg` (so from `Outbox-*` or CloudEvents headers alike).
 */
export interface ReceivedEvent {
  /** `Outbox-Event-Id` or `ce-id`, else `Nats-Msg-Id`, else `<stream>:<stream seq>`. */
  eventId: string;
  eventType: string;
  aggregateType: string | undefined;
  aggregateId: string | undefined;
  partition: number | undefined;
  /** The outbox sequence (`Outbox-Seq` or `ce-outboxseq`). */
  seq: number | undefined;
  /** The message's sequence in the JetStream stream. */
  streamSeq: number;
  /** 1 on first delivery. */
  deliveryCount: number;
  redelivered: boolean;
  subject: string;
  payload: unknown;
  traceparent: string | undefined;
  correlationId: string | undefined;
}

/** Throwing (or rejecting) makes the message be redelivered after the nak delay. */
export type EventHandler = (event: ReceivedEvent) => void | Promise<void>;

/** What became of one delivery: acked after the handler, naked for redelivery, or terminated (unparseable). */
export type DeliveryOutcome = 'processed' | 'failed' | 'terminated';

export interface StartSubscriberOptions {
  nc: NatsConnection;
  stream: string;
  subjectPrefix: string;
  /** Letters, digits, `_` and `-`; the durable consumer is `sub-<subscriberId>`. */
  subscriberId: string;
  logger: ProcessLogger;
  onEvent?: EventHandler;
  /** Defaults to `<subjectPrefix>.>`. */
  filterSubject?: string;
  /** Duplicate window used only when this subscriber creates the stream. Default 120 s (the relay's default). */
  duplicateWindowMs?: number;
  /** Who owns the stream, and the limits of one this subscriber creates; default: create with the server's limits. */
  streamOwnership?: StreamOwnership;
  /** Redelivery delay after a handler failure. Default 1000 ms. */
  nakDelayMs?: number;
  /** Default 1000. */
  maxAckPending?: number;
  /** How long the server waits for an ack before redelivering. Default 30 s. */
  ackWaitMs?: number;
  /** Told the outcome of every delivery (metrics). */
  onOutcome?: (outcome: DeliveryOutcome) => void;
}

export type SubscriberState = 'consuming' | 'stopping' | 'stopped' | 'failed';

export interface Subscriber {
  readonly consumerName: string;
  readonly state: SubscriberState;
  /** Events handled and acknowledged by this instance. */
  readonly processed: number;
  /** Stops pulling, finishes the messages already received (handled and acked), flushes the acks. Idempotent. */
  stop(): Promise<void>;
  /** Settles when consuming ended (after stop(), or rejects if the consume loop failed). */
  readonly done: Promise<void>;
}

const SUBSCRIBER_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function consumerNameFor(subscriberId: string): string {
  if (!SUBSCRIBER_ID.test(subscriberId)) {
    throw new Error(`subscriber id "${subscriberId}" must be 1-64 letters, digits, "_" or "-"`);
  }
  return `sub-${subscriberId}`;
}

/**
 * Starts one subscriber on an open connection: ensures the stream (creating it when the subscriber comes up
 * before any relay), ensures its durable consumer, and consumes until stop(). Each event is handled, logged as
 * one JSON line and acknowledged; a handler failure naks it with a delay, an unparseable payload is terminated.
 */
export async function startSubscriber(options: StartSubscriberOptions): Promise<Subscriber> {
  const consumerName = consumerNameFor(options.subscriberId);
  const filterSubject = options.filterSubject ?? `${options.subjectPrefix}.>`;
  const nakDelayMs = options.nakDelayMs ?? 1000;
  const logger = options.logger.child({ subscriberId: options.subscriberId, consumer: consumerName });
  const { nc } = options;

  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, {
    name: options.stream,
    subjectPrefix: options.subjectPrefix,
    duplicateWindowMs: options.duplicateWindowMs ?? 120_000,
    ...options.streamOwnership,
  });
  await ensureDurableConsumer(jsm, {
    stream: options.stream,
    name: consumerName,
    filterSubject,
    maxAckPending: options.maxAckPending ?? 1000,
    ackWaitMs: options.ackWaitMs ?? 30_000,
    remedy: 'delete it or use another SUBSCRIBER_ID',
  });
  const consumer = await jetstream(nc).consumers.get(options.stream, consumerName);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 256 });

  let state: SubscriberState = 'consuming';
  let processed = 0;

  void (async () => {
    for await (const s of messages.status()) {
      if (s.type === 'heartbeats_missed' || s.type === 'consumer_not_found' || s.type === 'stream_not_found' || s.type === 'consumer_deleted') {
        logger.warn({ notification: s }, `consumer notification: ${s.type}`);
      }
    }
  })().catch(() => undefined);

  async function handle(m: JsMsg, decoded: InboxEvent): Promise<DeliveryOutcome> {
    if (decoded.parseError) {
      // Retrying cannot fix a payload; terminate it so it stops blocking redelivery, and say so loudly.
      logger.error(
        { eventId: decoded.eventId, subject: m.subject, streamSeq: m.seq, redelivered: m.redelivered, reason: decoded.parseError, bytes: m.data.length },
        'Unparseable event payload; message terminated',
      );
      // No reason text: nats-server before 2.10 ignores "+TERM <reason>" and would leave the message pending.
      m.term();
      return 'terminated';
    }
    const event: ReceivedEvent = {
      eventId: decoded.eventId,
      eventType: decoded.eventType,
      aggregateType: decoded.aggregateType,
      aggregateId: decoded.aggregateId,
      partition: decoded.partition,
      seq: decoded.seq,
      streamSeq: m.seq,
      deliveryCount: decoded.deliveryCount,
      redelivered: m.redelivered,
      subject: m.subject,
      payload: decoded.payload,
      traceparent: decoded.traceparent,
      correlationId: decoded.correlationId,
    };
    const payload = decoded.payload;
    try {
      await options.onEvent?.(event);
    } catch (error) {
      logger.warn(
        { eventId: event.eventId, eventType: event.eventType, streamSeq: m.seq, deliveryCount: event.deliveryCount, retryInMs: nakDelayMs, err: error },
        'Event handler failed; message will be redelivered',
      );
      m.nak(nakDelayMs);
      return 'failed';
    }
    const fields = {
      eventId: event.eventId,
      aggregateId: event.aggregateId,
      partition: event.partition,
      seq: event.seq,
      streamSeq: event.streamSeq,
      redelivered: event.redelivered,
      ...(event.correlationId ? { correlationId: event.correlationId } : {}),
      ...(event.traceparent ? { traceparent: event.traceparent } : {}),
    };
    if (event.eventType === 'OrderCreated') {
      const orderId = (payload as { orderId?: unknown } | null)?.orderId;
      logger.info({ orderId, ...fields }, 'Received order created event');
    } else {
      logger.info({ eventType: event.eventType, aggregateType: event.aggregateType, ...fields }, 'Received event');
    }
    m.ack();
    processed++;
    return 'processed';
  }

  /** One CONSUMER span per delivery, a child of the trace that wrote the event (see withConsumerSpan). */
  function handleTraced(m: JsMsg): Promise<DeliveryOutcome> {
    const decoded = inboxEventFromMsg(m);
    return withConsumerSpan('@outbox-relay/subscriber', consumerName, decoded, async (span) => {
      const outcome = await handle(m, decoded);
      span.setAttribute('outbox.outcome', outcome);
      if (outcome !== 'processed') {
        span.setAttribute(MessagingAttributes.errorType, outcome);
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
      }
      options.onOutcome?.(outcome);
      return outcome;
    });
  }

  const done = (async () => {
    try {
      for await (const m of messages) {
        try {
          await handleTraced(m);
        } catch (error) {
          // handle() only throws on a bug; never drop the message silently and never stop the loop for it.
          logger.error({ err: error, streamSeq: m.seq, subject: m.subject }, 'Unexpected error handling a message; nak');
          m.nak(nakDelayMs);
        }
      }
      state = 'stopped';
    } catch (error) {
      state = 'failed';
      logger.error({ err: error }, 'Consume loop failed');
      throw error;
    }
  })();
  done.catch(() => undefined);

  logger.info({ stream: options.stream, filterSubject }, 'Subscriber consuming');

  let stopping: Promise<void> | undefined;
  return {
    consumerName,
    get state() {
      return state;
    },
    get processed() {
      return processed;
    },
    done,
    stop() {
      stopping ??= (async () => {
        if (state === 'consuming') state = 'stopping';
        await messages.close();
        await done.catch(() => undefined);
        // Acks are fire-and-forget publishes; make sure the server has them before the caller closes.
        if (!nc.isClosed()) await nc.flush().catch(() => undefined);
        logger.info({ processed }, 'Subscriber stopped');
      })();
      return stopping;
    },
  };
}
