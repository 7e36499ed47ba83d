import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { PoolClient } from 'pg';
import { childLogger, type Logger } from '@outbox-relay/runtime';
import { describeError, HandlerFailedError } from './errors';
import { aggregateKeyOf, inboxEventFromMsg, type InboxEvent } from './event';
import type { Inbox, InboxHandler } from './inbox';
import { KeyedLimiter } from './keyed-limiter';
import { withConsumerSpan } from './tracing';

export interface InboxConsumerOptions<T> {
  inbox: Inbox;
  /** A JetStream pull consumer: durable, explicit ack, max_deliver -1 (this loop decides when to give up). */
  consumer: Consumer;
  handler: InboxHandler<T>;
  /** Runs inside the dead-letter transaction when an event is given up (e.g. record the business failure). */
  onDeadLetter?: (tx: PoolClient, event: InboxEvent, reason: string) => Promise<void>;
  /** Retries after the first failure before the event is dead-lettered. Default 3 (so 4 attempts). */
  maxRetries?: number;
  /** Delay of the n-th redelivery: min(maxMs, minMs * 2^(n-1)). Default 1000 / 30000 ms. */
  backoff?: { minMs: number; maxMs: number };
  /** Events processed at once; one aggregate's events are always processed one after another. Default 1. */
  concurrency?: number;
  /** Messages the pull client buffers. Default 64. */
  prefetch?: number;
  logger?: Logger;
}

export interface InboxConsumerStats {
  processed: number;
  duplicates: number;
  /** Handler failures (each failed attempt). */
  failed: number;
  /** Failures that were negatively acknowledged for a later retry. */
  retried: number;
  deadLettered: number;
  /** Redeliveries asked for because the database (not the handler) failed. */
  infrastructureErrors: number;
}

export interface InboxConsumer {
  stats(): InboxConsumerStats;
  /** Stops pulling, finishes the events in hand (each acked or naked), then resolves. Idempotent. */
  stop(): Promise<void>;
  /** Settles when the consume loop ends (rejects if it failed). */
  readonly done: Promise<void>;
}

/** Delay before retry number `failures` (1-based). */
export function retryDelayMs(failures: number, backoff: { minMs: number; maxMs: number }): number {
  return Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
}

/**
 * Consumes a JetStream consumer with exactly-once processing through `inbox`:
 * - acked only after the handler's transaction committed; a duplicate (inbox row present) is acked and counted;
 * - a handler failure is counted in the database and the message naked with exponential backoff; after
 *   `maxRetries` retries (or at once for a PermanentHandlerError, or an unparseable payload) it is dead-lettered
 *   in one transaction with `onDeadLetter`'s effects, then acked;
 * - a database failure around the handler naks without using up a retry.
 * A crash at any point leaves either no effect (rolled back, redelivered) or the effect plus the inbox row (the
 * redelivery is a duplicate): never two effects.
 */
export async function startInboxConsumer<T>(options: InboxConsumerOptions<T>): Promise<InboxConsumer> {
  const maxRetries = options.maxRetries ?? 3;
  const backoff = options.backoff ?? { minMs: 1000, maxMs: 30_000 };
  const logger = options.logger && childLogger(options.logger, { consumer: options.inbox.consumer });
  const stats: InboxConsumerStats = { processed: 0, duplicates: 0, failed: 0, retried: 0, deadLettered: 0, infrastructureErrors: 0 };
  const limiter = new KeyedLimiter(options.concurrency ?? 1);
  const messages: ConsumerMessages = await options.consumer.consume({ max_messages: options.prefetch ?? 64 });

  async function deadLetter(m: JsMsg, event: InboxEvent, reason: string, attempts: number): Promise<void> {
    const outcome = await options.inbox.deadLetter(event, reason, attempts, (tx, e) => options.onDeadLetter?.(tx, e, reason) ?? Promise.resolve());
    if (outcome.status === 'duplicate') stats.duplicates++;
    else stats.deadLettered++;
    logger?.error(
      { eventId: event.eventId, eventType: event.eventType, aggregateId: event.aggregateId, attempts, reason, deadLetterId: outcome.status === 'dead_lettered' ? outcome.id : undefined },
      outcome.status === 'duplicate' ? 'event already settled; dead letter not written' : 'event dead-lettered',
    );
    m.ack();
  }

  /** One consumer span per delivery, a child of the writer's trace (see withConsumerSpan). */
  function processTraced(m: JsMsg): Promise<void> {
    const event = inboxEventFromMsg(m);
    return withConsumerSpan('@outbox-relay/inbox', options.inbox.consumer, event, (span) =>
      process(m, event, (outcome) => span.setAttribute('outbox.outcome', outcome)),
    );
  }

  async function process(m: JsMsg, event: InboxEvent, outcome: (what: string) => void): Promise<void> {
    const log = { eventId: event.eventId, eventType: event.eventType, aggregateId: event.aggregateId, deliveryCount: event.deliveryCount, streamSeq: event.streamSeq };
    try {
      if (event.parseError) {
        outcome('dead_lettered');
        return await deadLetter(m, event, event.parseError, 1);
      }
      const result = await options.inbox.handleOnce(event, options.handler);
      outcome(result.status);
      if (result.status === 'duplicate') {
        stats.duplicates++;
        logger?.info({ ...log, replayOf: event.replayOf }, 'duplicate event skipped');
      } else {
        stats.processed++;
        logger?.debug(log, 'event processed');
      }
      m.ack();
    } catch (error) {
      if (!(error instanceof HandlerFailedError)) {
        outcome('infrastructure_error');
        stats.infrastructureErrors++;
        const wait = retryDelayMs(event.deliveryCount, backoff);
        logger?.warn({ ...log, err: error, retryInMs: wait }, 'processing failed outside the handler; redelivery requested');
        m.nak(wait);
        return;
      }
      stats.failed++;
      const failures = await options.inbox.recordFailure(event, error).catch((recordError: unknown) => {
        logger?.warn({ ...log, err: recordError }, 'cannot record the failure');
        return null;
      });
      if (failures === null) {
        m.nak(retryDelayMs(event.deliveryCount, backoff));
        return;
      }
      const reason = describeError(error.cause);
      if (error.permanent || failures > maxRetries) {
        outcome('dead_lettered');
        await deadLetter(m, event, error.permanent ? reason : `${reason} (gave up after ${failures} attempts)`, failures).catch((dlqError: unknown) => {
          stats.infrastructureErrors++;
          logger?.warn({ ...log, err: dlqError }, 'cannot write the dead letter; redelivery requested');
          m.nak(retryDelayMs(failures, backoff));
        });
        return;
      }
      const wait = retryDelayMs(failures, backoff);
      outcome('retry');
      stats.retried++;
      logger?.warn({ ...log, attempt: failures, maxRetries, retryInMs: wait, err: error.cause }, 'handler failed; retry scheduled');
      m.nak(wait);
    }
  }

  const done = (async () => {
    for await (const m of messages) {
      const aggregate = aggregateKeyOf(m);
      await limiter.run(aggregate, () =>
        processTraced(m).catch((error: unknown) => {
          // process() handles its own failures; this is a bug guard so the loop never dies with a message in hand.
          logger?.error({ err: error, streamSeq: m.seq }, 'unexpected error while processing; nak');
          m.nak(retryDelayMs(1, backoff));
        }),
      );
    }
    await limiter.idle();
  })();
  done.catch(() => undefined);

  let stopping: Promise<void> | undefined;
  return {
    stats: () => ({ ...stats }),
    done,
    stop() {
      stopping ??= (async () => {
        await messages.close();
        await done.catch(() => undefined);
      })();
      return stopping;
    },
  };
}
