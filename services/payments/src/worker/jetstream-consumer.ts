import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { ensureStream, type StreamSpec } from '@outbox-relay/outbox';

const CONSUMER_NOT_FOUND = 10014;

export interface PaymentsConsumerSpec {
  stream: string;
  name: string;
  filterSubject: string;
  ackWaitMs: number;
  maxAckPending: number;
}

/**
 * The worker's durable pull consumer: explicit ack, max_deliver -1 (the inbox consumer decides when to give up,
 * counting handler failures in Postgres rather than JetStream deliveries). An existing one is brought to this
 * configuration; one with another filter that the server refuses to change is an error naming what to do.
 */
export async function ensurePaymentsConsumer(jsm: JetStreamManager, spec: PaymentsConsumerSpec): Promise<ConsumerInfo> {
  const wanted: Partial<ConsumerConfig> = {
    filter_subject: spec.filterSubject,
    ack_wait: nanos(spec.ackWaitMs),
    max_deliver: -1,
    max_ack_pending: spec.maxAckPending,
  };
  let existing: ConsumerInfo | undefined;
  try {
    existing = await jsm.consumers.info(spec.stream, spec.name);
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === CONSUMER_NOT_FOUND)) throw error;
  }
  if (!existing) {
    return jsm.consumers.add(spec.stream, {
      durable_name: spec.name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ...wanted,
    });
  }
  const c = existing.config;
  if (c.filter_subject === wanted.filter_subject && c.ack_wait === wanted.ack_wait && c.max_deliver === -1 && c.max_ack_pending === wanted.max_ack_pending) {
    return existing;
  }
  try {
    return await jsm.consumers.update(spec.stream, spec.name, wanted);
  } catch (error) {
    throw new Error(
      `durable consumer ${spec.name} on ${spec.stream} (filter "${c.filter_subject ?? ''}") cannot be changed to filter ` +
        `"${spec.filterSubject}" (${(error as Error).message}); delete it or set another PAYMENTS_CONSUMER`,
      { cause: error },
    );
  }
}

/** The stream, created with the relay's definition when the worker starts first; a lost creation race is retried. */
export async function ensureOutboxStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureStream(jsm, spec);
      return;
    } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}
