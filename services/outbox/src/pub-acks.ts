import { NoRespondersError, TimeoutError, createInbox, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { JetStreamApiError, JetStreamError, type ApiError } from '@nats-io/jetstream';
import { performance } from 'node:perf_hooks';

/** Sends one message to a JetStream stream and resolves with its acknowledgement. */
export interface AckedPublisher {
  publish(subject: string, payload: string, headers: MsgHdrs): Promise<{ duplicate: boolean }>;
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
  resolve: (ack: { duplicate: boolean }) => void;
  reject: (error: unknown) => void;
  /** Monotonic (performance.now()): a wall clock stepped back must not hold a publish beyond its timeout. */
  deadline: number;
}

const decoder = new TextDecoder();

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
 */
export class PubAckCollector implements AckedPublisher {
  private readonly prefix: string;
  private readonly subscription: Subscription;
  /** In publish order, so also in deadline order (one timeout for all). */
  private readonly waiting = new Map<string, WaitingAck>();
  private next = 0;
  private sweeper: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: PubAckCollectorOptions,
  ) {
    this.prefix = createInbox(options.inboxPrefix);
    this.subscription = nc.subscribe(`${this.prefix}.*`, { callback: (_error, msg) => this.settle(msg.subject, msg.headers, msg.data) });
  }

  publish(subject: string, payload: string, headers: MsgHdrs): Promise<{ duplicate: boolean }> {
    if (this.closed) return Promise.reject(new JetStreamError('publisher closed'));
    const token = (this.next++).toString(36);
    headers.set('Nats-Expected-Stream', this.options.stream);
    try {
      this.nc.publish(subject, payload, { reply: `${this.prefix}.${token}`, headers });
    } catch (error) {
      // Refused before sending: too large for max_payload, connection closed.
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.waiting.set(token, { subject, resolve, reject, deadline: performance.now() + this.options.timeoutMs });
      this.sweeper ??= setInterval(() => this.expire(), Math.min(1000, Math.max(10, this.options.timeoutMs / 4))).unref();
    });
  }

  /** Stops listening; publishes still waiting reject. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.subscription.unsubscribe();
    this.stopSweeper();
    const error = new JetStreamError('publisher closed');
    for (const waiting of this.waiting.values()) waiting.reject(error);
    this.waiting.clear();
  }

  private settle(replySubject: string, headers: MsgHdrs | undefined, data: Uint8Array): void {
    const token = replySubject.slice(this.prefix.length + 1);
    const waiting = this.waiting.get(token);
    if (!waiting) return; // timed out already
    this.waiting.delete(token);
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
    else if (!body.stream) waiting.reject(new JetStreamError('invalid ack response'));
    else waiting.resolve({ duplicate: body.duplicate === true });
  }

  private expire(): void {
    const now = performance.now();
    for (const [token, waiting] of this.waiting) {
      if (waiting.deadline > now) break;
      this.waiting.delete(token);
      waiting.reject(new TimeoutError());
    }
    if (this.waiting.size === 0) this.stopSweeper();
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }
}

/** The same contract over `JetStreamClient.publish` (a request per message), for comparison and tests. */
export function jetStreamClientPublisher(
  js: { publish(subject: string, payload: string, options: object): Promise<{ duplicate: boolean }> },
  options: PubAckCollectorOptions,
): AckedPublisher {
  return {
    publish: (subject, payload, headers) =>
      js.publish(subject, payload, { headers, timeout: options.timeoutMs, expect: { streamName: options.stream }, retries: 1 }),
  };
}
