import { DeliverPolicy, jetstream, jetstreamManager, type OrderedConsumerOptions } from '@nats-io/jetstream';
import { TimeoutError, type NatsConnection } from '@nats-io/nats-core';
import { OutboxError } from '../errors';
import { partitionHeaderOf } from './message-headers';

/**
 * Window-free deduplication, part 1: where the stream may hold events this partition has not marked yet.
 *
 * Every message the relay sends gets a lower bound of the stream sequence it will be stored at, as soon as it is
 * sent: one more than the highest sequence any acknowledgement has reported so far (a message sent after an ack
 * arrived is stored after the acknowledged one). Its acknowledgement replaces the bound by the exact sequence.
 * The smallest bound among the messages sent and not yet marked is where a look at the stream must start to find
 * every one of them; each mark records it on the lease row (`check_stream_from`), so a successor, or this relay
 * after a failure, knows where to look whatever happened in between.
 */
export class UnmarkedStreamSeqs {
  /** Outbox seq → lower bound (or exact value) of its stream sequence, for messages sent and not marked. */
  private readonly bounds = new Map<string, number>();

  constructor(private readonly highestAcked: () => number) {}

  sent(outboxSeq: string): void {
    this.bounds.set(outboxSeq, this.highestAcked() + 1);
  }

  acked(outboxSeq: string, streamSeq: number): void {
    if (this.bounds.has(outboxSeq)) this.bounds.set(outboxSeq, streamSeq);
  }

  /**
   * Forgets `outboxSeqs` (about to be marked) and returns where a look at the stream must start once that mark
   * committed: the smallest bound of the messages still unmarked, else just past everything acknowledged so far.
   */
  marking(outboxSeqs: readonly string[]): number {
    for (const seq of outboxSeqs) this.bounds.delete(seq);
    return this.floor();
  }

  floor(): number {
    let min = this.highestAcked() + 1;
    for (const bound of this.bounds.values()) if (bound < min) min = bound;
    return min;
  }

  /** True when nothing sent is unmarked (a clean end of term leaves nothing to look at). */
  get empty(): boolean {
    return this.bounds.size === 0;
  }

  clear(): void {
    this.bounds.clear();
  }
}

/** Looking at the stream failed (NATS away, the stream gone, no progress within the timeout). Retried. */
export class StreamCheckError extends OutboxError {
  readonly stream: string;
  constructor(stream: string, message: string, options?: { cause?: unknown }) {
    super(`stream ${stream}: ${message}`, options);
    this.stream = stream;
  }
}

export interface StoredEvents {
  /** Event ids (`Nats-Msg-Id`) of the partition's messages stored from the look's start to `lastSeq`. */
  ids: string[];
  /** The stream's last sequence when the look began: the next look, if any, starts after it. */
  lastSeq: number;
  /** Messages read (all partitions'), for the log and the benchmark. */
  scanned: number;
  /** True when the stream's sequences are below where the look was to start: recreated or purged meanwhile. */
  streamReset: boolean;
}

/**
 * Window-free deduplication, part 2: which of `partition`'s messages the stream holds from sequence `from` on, or
 * from time `since` (after a database failover the lease row's sequence may be stale, see migration 1733500000000).
 * Reads headers only (no payloads) with an ordered consumer, up to the last sequence the stream had when the look
 * began; messages stored after that were sent after it and are covered by the duplicate window. With `from` null
 * (nothing to look for) it only reads the stream's last sequence. Gives up with StreamCheckError when no message
 * arrives for `idleTimeoutMs`.
 */
export async function findStoredEvents(
  nc: NatsConnection,
  stream: string,
  partition: number,
  from: number | null,
  idleTimeoutMs: number,
  since: Date | null = null,
): Promise<StoredEvents> {
  const info = await retriedOnTimeout(idleTimeoutMs, async (timeout) => (await jetstreamManager(nc, { timeout })).streams.info(stream)).catch((error: unknown) => {
    throw new StreamCheckError(stream, 'cannot read the stream state', { cause: error });
  });
  const lastSeq = info.state.last_seq;
  if (since !== null) return findStoredSince(nc, stream, partition, since, lastSeq, idleTimeoutMs);
  if (from === null) return { ids: [], lastSeq, scanned: 0, streamReset: false };
  const streamReset = from > lastSeq + 1;
  const start = Math.max(from, info.state.first_seq);
  if (streamReset || start > lastSeq || info.state.messages === 0) return { ids: [], lastSeq, scanned: 0, streamReset };

  const found = await scanPartition(nc, stream, partition, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start }, `sequence ${start}`, lastSeq, idleTimeoutMs);
  return { ...found, lastSeq, streamReset };
}

/**
 * findStoredEvents from a time: the messages stored at or after `since`, up to `lastSeq`. The stream's last message
 * says first whether there is any (a consumer started after the last message would wait for new ones).
 */
async function findStoredSince(nc: NatsConnection, stream: string, partition: number, since: Date, lastSeq: number, idleTimeoutMs: number): Promise<StoredEvents> {
  if (lastSeq === 0) return { ids: [], lastSeq, scanned: 0, streamReset: false };
  const last = await retriedOnTimeout(idleTimeoutMs, async (timeout) => (await jetstreamManager(nc, { timeout })).streams.getMessage(stream, { seq: lastSeq })).catch(
    (error: unknown) => {
      throw new StreamCheckError(stream, `cannot read its last message (${lastSeq})`, { cause: error });
    },
  );
  if (last === null || last.time < since) return { ids: [], lastSeq, scanned: 0, streamReset: false };
  const found = await scanPartition(nc, stream, partition, { deliver_policy: DeliverPolicy.StartTime, opt_start_time: since.toISOString() }, since.toISOString(), lastSeq, idleTimeoutMs);
  return { ...found, lastSeq, streamReset: false };
}

/** Reads headers from `start` to `lastSeq` with an ordered consumer; the ids of `partition`'s messages. */
async function scanPartition(
  nc: NatsConnection,
  stream: string,
  partition: number,
  start: Partial<OrderedConsumerOptions>,
  startText: string,
  lastSeq: number,
  idleTimeoutMs: number,
): Promise<{ ids: string[]; scanned: number }> {
  const wanted = String(partition);
  const ids: string[] = [];
  let scanned = 0;
  const consumer = await readingConsumer(nc, stream, start, idleTimeoutMs);
  const messages = await consumer.consume({ max_messages: 1000 });
  let idle: NodeJS.Timeout | undefined;
  let stalled = false;
  let reached = false;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      stalled = true;
      void messages.close();
    }, idleTimeoutMs);
  };
  try {
    arm();
    for await (const msg of messages) {
      arm();
      scanned++;
      const h = msg.headers;
      // In whichever header mode it was published: the mode may have changed since (a restart, a rolling update).
      if (h && partitionHeaderOf(h) === wanted) {
        const id = h.get('Nats-Msg-Id');
        if (id) ids.push(id);
      }
      if (msg.seq >= lastSeq || msg.info.pending === 0) {
        reached = true;
        break;
      }
    }
  } finally {
    clearTimeout(idle);
    await messages.close()?.catch(() => undefined);
  }
  if (stalled) throw new StreamCheckError(stream, `no message for ${idleTimeoutMs} ms while reading from ${startText} to ${lastSeq}`);
  if (!reached) throw new StreamCheckError(stream, `the read from ${startText} ended before ${lastSeq}`);
  return { ids, scanned };
}

/** Tries of a request of the look; all but the last are short (see retriedOnTimeout). */
const REQUEST_ATTEMPTS = 10;
/** How long each of those but the last waits: a working cluster answers within milliseconds. */
const REQUEST_ATTEMPT_MS = 1000;

/**
 * `request` (made with the timeout it is given), tried again at once when it times out, each try but the last
 * waiting at most REQUEST_ATTEMPT_MS; the last waits `timeoutMs`, so that a cluster that is slow rather than short
 * of a server is still waited for. In a JetStream cluster a request can go unanswered without being refused:
 * - the stream's state while its replicas elect a leader (seconds after its leader died): nobody answers until
 *   there is one, and a request sent just before the election ends would otherwise hold the look for the whole
 *   publish timeout after it;
 * - the reading consumer's creation: JetStream places that one-replica consumer on one of the stream's servers at
 *   random, a dead one included until the cluster declares it gone (minutes; nats-server 2.9 with one of three
 *   servers down: a third of the creations), and a consumer placed there never answers. A new try is a new
 *   placement; a consumer created after its try gave up expires with its inactivity threshold.
 */
async function retriedOnTimeout<T>(timeoutMs: number, request: (timeout: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const last = attempt === REQUEST_ATTEMPTS;
    try {
      return await request(last ? timeoutMs : Math.min(timeoutMs, REQUEST_ATTEMPT_MS));
    } catch (error) {
      if (last || !(error instanceof TimeoutError)) throw error;
    }
  }
}

/** The ordered consumer that reads the stream from `start` (a sequence or a time; headers only). */
function readingConsumer(nc: NatsConnection, stream: string, start: Partial<OrderedConsumerOptions>, idleTimeoutMs: number) {
  return retriedOnTimeout(idleTimeoutMs, (timeout) => jetstream(nc, { timeout }).consumers.get(stream, { ...start, headers_only: true })).catch((error: unknown) => {
    throw new StreamCheckError(stream, 'cannot read the stream', { cause: error });
  });
}
