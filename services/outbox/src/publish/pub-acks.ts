import { NoRespondersError, TimeoutError, createInbox, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { JetStreamApiError, JetStreamError, type ApiError } from '@nats-io/jetstream';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { StreamWithoutLeaderError, streamIsGone } from './stream-presence';

/** What the stream said about one message: stored at `seq` now, or earlier (`duplicate`: dropped as a re-publish). */
export interface PubAck {
  duplicate: boolean;
  seq: number;
}

/** Sends one message to a JetStream stream and resolves with its acknowledgement. */
export interface AckedPublisher {
  /**
   * `mayStillSend`, when given, is asked again when the client writes the message to the socket: a message whose
   * sender lost the right to send meanwhile (a lease deadline passed while the process was frozen) is not written.
   * `mayResend`, when given, lets a message that found no stream listening wait for one (see PubAckCollector); it is
   * asked before each new copy is sent, as the sender's right to send is before the first.
   */
  publish(subject: string, payload: string, headers: MsgHdrs, mayStillSend?: () => boolean, mayResend?: () => boolean): Promise<PubAck>;
  /** The highest stream sequence any acknowledgement reported so far (0 before the first). */
  readonly highestSeq: number;
}

/**
 * The sender lost the right to send (its lease deadline passed) while its messages were still in the process:
 * handed to the NATS client but not yet written to the socket, or written but still queued in the socket because
 * the kernel would not take them (a slow network). The process was frozen (GC, SIGSTOP, a VM pause) or the network
 * stuck meanwhile. None of those bytes is sent: the connection is reset, which drops them all.
 */
export class StaleWriteError extends JetStreamError {
  constructor(where: 'client' | 'socket') {
    super(`lease deadline passed while messages were still queued in the ${where}; the connection was reset and none of them was sent`);
    this.name = 'StaleWriteError';
  }
}

/** How often bytes still queued in the socket are checked against their senders' deadlines (see PubAckCollector.guardQueue). */
const QUEUE_CHECK_MS = 50;

/** The internals of @nats-io/nats-core 3 that the write-time check wraps (see PubAckCollector.gateWrites). */
interface ProtocolInternals {
  flushPending: () => void;
  outbound: { reset(): void };
  transport?: { socket?: Socket };
}

function protocolOf(nc: NatsConnection): Partial<ProtocolInternals> | undefined {
  return (nc as unknown as { protocol?: Partial<ProtocolInternals> }).protocol;
}

/** The socket under a connection made by @nats-io/transport-node 3 (undefined while reconnecting, or with other internals). */
export function natsSocket(nc: NatsConnection): Socket | undefined {
  const socket = protocolOf(nc)?.transport?.socket;
  return socket !== undefined && typeof socket.writableLength === 'number' ? socket : undefined;
}

/**
 * The connection to NATS was lost, or came back, while this publish waited for its acknowledgement, or it was
 * made while disconnected. Its outcome is unknown: the client drops what it had buffered at a reconnect, and an
 * ack may have been lost. The relay looks in the stream before it publishes again (stream-check.ts).
 */
export class ConnectionInterruptedError extends JetStreamError {
  constructor(what: 'disconnected' | 'reconnected' | 'not connected') {
    super(`NATS connection ${what} before the acknowledgement arrived; outcome unknown`);
    this.name = 'ConnectionInterruptedError';
  }
}

export interface PubAckCollectorOptions {
  /** The stream that must store the messages (`Nats-Expected-Stream`): a message another stream captures fails. */
  stream: string;
  /** How long a publish waits for its acknowledgement. */
  timeoutMs: number;
  /** Prefix of the reply subjects (default `_INBOX`), where permissions only allow replies under another one. */
  inboxPrefix?: string;
}

interface WaitingAck {
  subject: string;
  resolve: (ack: PubAck) => void;
  reject: (error: unknown) => void;
  /** Monotonic (performance.now()): a wall clock stepped back must not hold a publish beyond its timeout. */
  deadline: number;
  /** Kept for sending the message again after "no responders" (only with `mayResend`). */
  payload: string;
  headers: MsgHdrs;
  mayStillSend: (() => boolean) | undefined;
  mayResend: (() => boolean) | undefined;
  /** When to send it again (monotonic); Infinity while a copy is on its way or when it is never sent again. */
  resendAt: number;
  /** "No responders" answers so far: each doubles the wait before the next copy. */
  noResponders: number;
}

/** After a "no responders" answer, the first wait before the message goes again; doubles up to NO_RESPONDERS_MAX_WAIT_MS. */
const NO_RESPONDERS_FIRST_WAIT_MS = 25;
const NO_RESPONDERS_MAX_WAIT_MS = 250;
/** How long the question "is the stream still there?" may wait (see PubAckCollector.noRespondersError). */
const PRESENCE_TIMEOUT_MS = 1000;

const decoder = new TextDecoder();

/** A promise and the function that settles it. */
function changeSignal(): { promise: Promise<void>; resolve: () => void } {
  return Promise.withResolvers<void>();
}

interface PubAckBody {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: ApiError;
}

/**
 * JetStream publishes whose acknowledgements all come back on ONE wildcard reply subscription, matched by reply
 * token, as nats.go's PublishAsync does. `JetStreamClient.publish` makes a request per message instead: a reply
 * registration, a timer and two Error objects with stack traces per message, which were the largest items in a
 * profile of the relay's drain. Same wire protocol and same errors: a refused message rejects with the
 * JetStreamApiError the stream sent (e.g. 10054, larger than the stream's max_msg_size), a message larger than
 * NATS's max_payload with the client's InvalidArgumentError, no stream listening with NoRespondersError, no answer
 * within `timeoutMs` with TimeoutError.
 *
 * No stream listening (the server's 503) is also what a JetStream cluster answers while a stream has no leader: for a
 * few hundred milliseconds when its leader steps down (a rolling update moves every leader that way), for seconds
 * when it died. A publish given `mayResend` therefore waits for a leader instead of failing: its message is sent
 * again after 25 ms, then 50, 100, up to every 250 ms, for as long as `mayResend()` allows and its timeout has not
 * passed. Then it fails with NoRespondersError if the stream is gone (ensure it again), and with
 * StreamWithoutLeaderError if it is still there (an election longer than the timeout: retry). A copy answered 503
 * reached no stream, so a message is stored at most once this way, whatever the duplicate window. A message that
 * gets no answer at all is never sent again here: the stream may have stored it (its leader died before answering),
 * and only a look at the stream can tell (stream-check.ts).
 */
export class PubAckCollector implements AckedPublisher {
  private readonly prefix: string;
  private readonly subscription: Subscription;
  /** In publish order, so also in deadline order (one timeout for all). */
  private readonly waiting = new Map<string, WaitingAck>();
  private next = 0;
  private sweeper: NodeJS.Timeout | null = null;
  private closed = false;
  private connected = true;
  /** Settled at the next disconnect or reconnect (requests in flight then will not be answered). */
  private connectionChange = changeSignal();
  private stopWatching: () => void = () => undefined;
  /** Whether the stream still takes a subject, being asked now (see noRespondersError). */
  private readonly streamGone = new Map<string, Promise<boolean>>();
  /** Publishes answered "no responders" whose next copy is not sent yet, and the timer that sends the due ones. */
  private readonly resendDue = new Map<string, WaitingAck>();
  private resendTimer: NodeJS.Timeout | null = null;
  private readonly reconnectListeners = new Set<() => void>();
  /**
   * Checks of the senders whose messages were handed to the client since its last write to the socket (a set: a
   * partition's batch shares one check, so a write asks it once, not once per message).
   */
  private unwritten = new Set<() => boolean>();
  /** Checks of the senders whose messages may still be queued in the socket (written, not yet taken by the kernel). */
  private queued = new Set<() => boolean>();
  private queueGuard: NodeJS.Timeout | null = null;
  /** False when this client's internals are not the ones the write-time check knows (then only the check before publish holds). */
  readonly checksAtWrite: boolean;
  highestSeq = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: PubAckCollectorOptions,
  ) {
    this.prefix = createInbox(options.inboxPrefix);
    this.subscription = nc.subscribe(`${this.prefix}.*`, { callback: (_error, msg) => this.settle(msg.subject, msg.headers, msg.data) });
    this.checksAtWrite = this.gateWrites();
    void this.watchConnection();
  }

  /**
   * The client buffers what is published and writes it to the socket in a microtask. A process frozen between a
   * publish (checked against the lease deadline just before) and that write would, on waking, send messages of a
   * term that has ended, after a successor published the same aggregates' later events. So the write itself asks
   * each buffered message's `mayStillSend` again; if one says no, nothing is written and the connection is reset
   * (the buffer may hold other commands, which the reconnect sends again). Wraps @nats-io/nats-core 3's
   * `protocol.flushPending`; with other internals it reports false and does nothing.
   */
  private gateWrites(): boolean {
    const protocol = protocolOf(this.nc);
    if (typeof protocol?.flushPending !== 'function' || typeof protocol.outbound?.reset !== 'function') return false;
    const internals = protocol as ProtocolInternals;
    const write = internals.flushPending.bind(internals);
    internals.flushPending = () => {
      if (this.unwritten.size === 0) return write();
      const checks = this.unwritten;
      this.unwritten = new Set();
      for (const mayStillSend of checks) {
        if (!mayStillSend()) return this.resetConnection(internals, 'client');
      }
      write();
      this.guardQueue(internals, checks);
    };
    return true;
  }

  /**
   * A write the kernel does not take at once (its buffer is full: the other side reads slowly) stays queued in the
   * process, and the event loop sends it whenever the socket drains, long after the check above if the process
   * was frozen meanwhile (seed 62 of the fault-injection suite stored an event twice that way). While bytes are
   * queued, a timer checks their senders every QUEUE_CHECK_MS; a sender past its deadline resets the connection,
   * which drops them. The check holds across a freeze because a process woken from one runs its due timers
   * before it polls its sockets again (libuv: a wait interrupted by the stop signal returns to run the timers
   * once its own timeout has passed, and this timer makes sure there is one).
   */
  private guardQueue(internals: ProtocolInternals, checks: Set<() => boolean>): void {
    const socket = internals.transport?.socket;
    if (!socket || socket.writableLength === 0) return;
    for (const check of checks) this.queued.add(check);
    this.queueGuard ??= setInterval(() => {
      const current = internals.transport?.socket;
      if (current !== socket || socket.destroyed || socket.writableLength === 0) return this.stopQueueGuard();
      for (const mayStillSend of this.queued) {
        if (!mayStillSend()) return this.resetConnection(internals, 'socket');
      }
    }, QUEUE_CHECK_MS).unref();
  }

  private stopQueueGuard(): void {
    if (this.queueGuard) clearInterval(this.queueGuard);
    this.queueGuard = null;
    this.queued.clear();
  }

  /**
   * Drops everything not yet sent, in the client and in the socket (a reset, not a close: a close would first
   * write out what the socket holds), and fails the publishes waiting. The client sees the connection closed and
   * reconnects.
   */
  private resetConnection(internals: ProtocolInternals, where: 'client' | 'socket'): void {
    internals.outbound.reset();
    this.unwritten.clear();
    this.stopQueueGuard();
    const socket = internals.transport?.socket;
    if (socket && !socket.destroyed) {
      try {
        socket.resetAndDestroy();
      } catch {
        // A TLS socket cannot send a reset; destroying it still drops what the process holds.
        socket.destroy();
      }
    } else {
      void this.nc.reconnect().catch(() => undefined);
    }
    this.failWaiting(new StaleWriteError(where));
  }

  /** Forgets the acknowledged sequences (the stream was created anew and numbers from 1 again). */
  resetHighestSeq(): void {
    this.highestSeq = 0;
  }

  /**
   * The stream was seen holding messages up to `seq` (its state when ensured): anything sent from now on is stored
   * after it, so it serves as a lower bound like an acknowledged sequence before this process has any of its own.
   */
  noteStreamSeq(seq: number): void {
    if (seq > this.highestSeq) this.highestSeq = seq;
  }

  /** Calls `listener` whenever the connection to NATS is back after a loss (publishing can resume at once). */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /**
   * Publishes waiting when the connection drops, and those sent while it was down, would otherwise wait out their
   * timeout (the client silently drops its buffer at a reconnect): they fail at once, and publishing resumes as
   * soon as the connection is back instead of one publish timeout (or backoff) later.
   */
  private async watchConnection(): Promise<void> {
    const statuses = this.nc.status();
    // The implementation stops with stop() (the type only promises an AsyncIterable): without it, every collector
    // made on a long-lived connection would stay registered with it.
    this.stopWatching = () => (statuses as { stop?: () => void }).stop?.();
    try {
      for await (const status of statuses) {
        if (this.closed) return;
        if (status.type === 'disconnect') {
          this.connected = false;
          this.failWaiting(new ConnectionInterruptedError('disconnected'));
          this.connectionChanged();
        } else if (status.type === 'reconnect') {
          this.connected = true;
          this.failWaiting(new ConnectionInterruptedError('reconnected'));
          this.connectionChanged();
          for (const listener of this.reconnectListeners) listener();
        }
      }
    } catch {
      // The status iterator ends with the connection; nothing is waiting for it then.
    }
  }

  private connectionChanged(): void {
    this.connectionChange.resolve();
    this.connectionChange = changeSignal();
  }

  /** Connected to NATS as far as the client's status events tell. */
  get isConnected(): boolean {
    return this.connected && !this.closed;
  }

  /**
   * `work`'s result, or ConnectionInterruptedError as soon as the connection drops or comes back while it runs (or
   * at once when disconnected): a request in flight then is never answered (the client drops its buffer at a
   * reconnect) and would hold its caller for its whole timeout after NATS is back.
   */
  async whileConnected<T>(work: () => Promise<T>): Promise<T> {
    if (!this.isConnected) throw new ConnectionInterruptedError('not connected');
    const changed = this.connectionChange.promise.then(() => {
      throw new ConnectionInterruptedError('reconnected');
    });
    const running = work();
    running.catch(() => undefined);
    changed.catch(() => undefined);
    return Promise.race([running, changed]);
  }

  publish(subject: string, payload: string, headers: MsgHdrs, mayStillSend?: () => boolean, mayResend?: () => boolean): Promise<PubAck> {
    if (this.closed) return Promise.reject(new JetStreamError('publisher closed'));
    if (!this.connected) return Promise.reject(new ConnectionInterruptedError('not connected'));
    const token = (this.next++).toString(36);
    headers.set('Nats-Expected-Stream', this.options.stream);
    try {
      this.send(token, subject, payload, headers, mayStillSend);
    } catch (error) {
      // Refused before sending: too large for max_payload, connection closed.
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      const deadline = performance.now() + this.options.timeoutMs;
      this.waiting.set(token, { subject, resolve, reject, deadline, payload, headers, mayStillSend, mayResend, resendAt: Infinity, noResponders: 0 });
      this.sweeper ??= setInterval(() => this.expire(), Math.min(1000, Math.max(10, this.options.timeoutMs / 4))).unref();
    });
  }

  /** Hands one copy of a message to the client, its reply to `token`; throws what the client throws. */
  private send(token: string, subject: string, payload: string, headers: MsgHdrs, mayStillSend: (() => boolean) | undefined): void {
    const checked = mayStillSend !== undefined && this.checksAtWrite && !this.unwritten.has(mayStillSend);
    try {
      if (checked) this.unwritten.add(mayStillSend);
      this.nc.publish(subject, payload, { reply: `${this.prefix}.${token}`, headers });
    } catch (error) {
      if (checked) this.unwritten.delete(mayStillSend);
      throw error;
    }
  }

  /** Stops listening; publishes still waiting reject. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.subscription.unsubscribe();
    this.reconnectListeners.clear();
    this.stopQueueGuard();
    this.stopWatching();
    this.failWaiting(new JetStreamError('publisher closed'));
  }

  private failWaiting(error: Error): void {
    this.stopSweeper();
    this.resendDue.clear();
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiting) w.reject(error);
  }

  private settle(replySubject: string, headers: MsgHdrs | undefined, data: Uint8Array): void {
    const token = replySubject.slice(this.prefix.length + 1);
    const waiting = this.waiting.get(token);
    if (!waiting) return; // timed out already
    if (data.length === 0 && headers?.code === 503 && waiting.mayResend) {
      // No stream listening: sent again, unless its deadline comes first (see the class comment).
      waiting.resendAt = performance.now() + Math.min(NO_RESPONDERS_MAX_WAIT_MS, NO_RESPONDERS_FIRST_WAIT_MS * 2 ** waiting.noResponders++);
      this.resendDue.set(token, waiting);
      this.resendTimer ??= setTimeout(() => this.resendDueCopies(), NO_RESPONDERS_FIRST_WAIT_MS).unref();
      return;
    }
    this.waiting.delete(token);
    this.resendDue.delete(token);
    if (this.waiting.size === 0) this.stopSweeper();
    if (data.length === 0 && headers?.code === 503) {
      waiting.reject(new NoRespondersError(waiting.subject));
      return;
    }
    let body: PubAckBody;
    try {
      body = JSON.parse(decoder.decode(data)) as PubAckBody;
    } catch (error) {
      waiting.reject(new JetStreamError('invalid ack response', { cause: error }));
      return;
    }
    if (body.error) waiting.reject(new JetStreamApiError(body.error));
    else if (!body.stream || typeof body.seq !== 'number') waiting.reject(new JetStreamError('invalid ack response'));
    else {
      if (body.seq > this.highestSeq) this.highestSeq = body.seq;
      waiting.resolve({ duplicate: body.duplicate === true, seq: body.seq });
    }
  }

  private expire(): void {
    const now = performance.now();
    for (const [token, waiting] of this.waiting) {
      if (waiting.deadline > now) break;
      this.waiting.delete(token);
      this.resendDue.delete(token);
      if (waiting.noResponders > 0) void this.noRespondersError(waiting.subject).then(waiting.reject);
      else waiting.reject(new TimeoutError());
    }
    if (this.waiting.size === 0) this.stopSweeper();
  }

  /** Sends the copies that are due, and comes back for the others while there are any. */
  private resendDueCopies(): void {
    this.resendTimer = null;
    const now = performance.now();
    for (const [token, waiting] of this.resendDue) {
      if (!this.waiting.has(token)) this.resendDue.delete(token);
      else if (waiting.resendAt <= now) this.resend(token, waiting, now);
    }
    if (this.resendDue.size > 0) this.resendTimer = setTimeout(() => this.resendDueCopies(), NO_RESPONDERS_FIRST_WAIT_MS).unref();
  }

  /**
   * What a publish answered only "no responders" until its deadline fails with: NoRespondersError when the stream
   * is gone (the relay ensures it again on that error), StreamWithoutLeaderError while it is there. A leader election
   * longer than the publish timeout would otherwise make the relay ensure its stream again, whose requests wait out
   * their own timeout for as long as the election lasts.
   */
  private async noRespondersError(subject: string): Promise<Error> {
    // Asked once per subject for the publishes that time out together (a whole window can).
    let asked = this.streamGone.get(subject);
    if (!asked) {
      asked = streamIsGone(this.nc, this.options.stream, subject, Math.min(this.options.timeoutMs, PRESENCE_TIMEOUT_MS));
      this.streamGone.set(subject, asked);
      void asked.finally(() => this.streamGone.delete(subject));
    }
    return (await asked) ? new NoRespondersError(subject) : new StreamWithoutLeaderError(this.options.stream);
  }

  /**
   * The next copy of a message that found no stream listening; put off while its sender may not send (a lease
   * renewal overdue pauses it; a lost lease lets its deadline end it), or while disconnected (a reconnect fails it).
   */
  private resend(token: string, waiting: WaitingAck, now: number): void {
    if (!this.connected || !waiting.mayResend?.()) {
      waiting.resendAt = now + NO_RESPONDERS_FIRST_WAIT_MS;
      return;
    }
    waiting.resendAt = Infinity;
    this.resendDue.delete(token);
    try {
      this.send(token, waiting.subject, waiting.payload, waiting.headers, waiting.mayStillSend);
    } catch (error) {
      this.waiting.delete(token);
      waiting.reject(error);
    }
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }
}

/** The same contract over `JetStreamClient.publish` (a request per message), for comparison and tests. */
export function jetStreamClientPublisher(
  js: { publish(subject: string, payload: string, options: object): Promise<PubAck> },
  options: PubAckCollectorOptions,
): AckedPublisher {
  const publisher = {
    highestSeq: 0,
    publish: async (subject: string, payload: string, headers: MsgHdrs): Promise<PubAck> => {
      const ack = await js.publish(subject, payload, { headers, timeout: options.timeoutMs, expect: { streamName: options.stream }, retries: 1 });
      publisher.highestSeq = Math.max(publisher.highestSeq, ack.seq);
      return { duplicate: ack.duplicate, seq: ack.seq };
    },
  };
  return publisher;
}
