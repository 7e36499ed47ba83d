import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Pool, PoolClient } from 'pg';
import { childLogger, silentLogger, type Logger } from '@outbox-relay/runtime';
import { ensureStream, RetentionSweeper, type StreamOwnership } from '@outbox-relay/outbox';
import { startInboxConsumer, type InboxConsumer } from './consumer';
import { ensureDurableConsumer } from './durable-consumer';
import type { InboxEvent } from './event';
import type { Inbox, InboxHandler } from './inbox';
import { sweepInbox } from './retention';

export interface InboxWorkerSpec<T> {
  pool: Pool;
  nc: NatsConnection;
  /** Any pino-compatible logger, or `console`; default: logs nothing. */
  logger?: Logger;
  /** The service's inbox (its `consumer` is the durable consumer's name). */
  inbox: Inbox;
  inboxSchema: string;
  stream: string;
  subjectPrefix: string;
  /** Used only when this worker creates the stream (it started before any relay). */
  duplicateWindowMs: number;
  /** Who owns the stream, and the limits of one this worker creates (streamOwnershipFromEnv); default: create. */
  streamOwnership?: StreamOwnership;
  filterSubject: string;
  /** What the operator should do when a consumer of that name exists with another filter. */
  remedy: string;
  ackWaitMs: number;
  maxAckPending: number;
  handler: InboxHandler<T>;
  onDeadLetter?: (tx: PoolClient, event: InboxEvent, reason: string) => Promise<void>;
  maxRetries: number;
  backoff: { minMs: number; maxMs: number };
  concurrency: number;
  /** Deletes this consumer's old inbox rows and resolved dead letters (see sweepInbox). */
  retention: { processedMs: number; deadLetterMs: number; intervalMs: number };
  /** Told how many rows each retention sweep deleted (metrics). */
  onRetention?: (table: 'inbox' | 'inbox_dead_letters', rows: number) => void;
}

export interface InboxWorker extends InboxConsumer {
  readonly consumerName: string;
  readonly filterSubject: string;
}

/**
 * A service's consumer of other services' events, set up whole: the stream (if no relay created it yet), the
 * durable consumer, exactly-once processing through `inbox`, and the sweep of old inbox rows. `stop()` ends the
 * sweep, settles the events in hand and flushes their acks.
 */
export async function startInboxWorker<T>(spec: InboxWorkerSpec<T>): Promise<InboxWorker> {
  const { nc } = spec;
  const logger = spec.logger ?? silentLogger;
  const consumerName = spec.inbox.consumer;
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, { name: spec.stream, subjectPrefix: spec.subjectPrefix, duplicateWindowMs: spec.duplicateWindowMs, ...spec.streamOwnership });
  await ensureDurableConsumer(jsm, {
    stream: spec.stream,
    name: consumerName,
    filterSubject: spec.filterSubject,
    ackWaitMs: spec.ackWaitMs,
    maxAckPending: spec.maxAckPending,
    remedy: spec.remedy,
  });
  const consumer = await jetstream(nc).consumers.get(spec.stream, consumerName);
  const running = await startInboxConsumer({
    inbox: spec.inbox,
    consumer,
    handler: spec.handler,
    onDeadLetter: spec.onDeadLetter,
    maxRetries: spec.maxRetries,
    backoff: spec.backoff,
    concurrency: spec.concurrency,
    logger,
  });
  const { retention } = spec;
  const sweeper = new RetentionSweeper(
    async () => {
      const deleted = await sweepInbox({ pool: spec.pool, schema: spec.inboxSchema, olderThanMs: retention.processedMs, deadLetterOlderThanMs: retention.deadLetterMs });
      spec.onRetention?.('inbox', deleted.inbox);
      spec.onRetention?.('inbox_dead_letters', deleted.deadLetters);
      return deleted;
    },
    retention.intervalMs,
    () => true,
    childLogger(logger, { schema: spec.inboxSchema, table: 'inbox' }),
  );
  sweeper.start();
  let stopping: Promise<void> | undefined;
  return {
    consumerName,
    filterSubject: spec.filterSubject,
    done: running.done,
    stats: () => running.stats(),
    stop() {
      stopping ??= (async () => {
        await sweeper.stop();
        await running.stop();
        // Acks are fire-and-forget publishes; make sure the server has them before the connection closes.
        if (!nc.isClosed()) await nc.flush().catch(() => undefined);
      })();
      return stopping;
    },
  };
}
