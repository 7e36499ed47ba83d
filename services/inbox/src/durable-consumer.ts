import { AckPolicy, DeliverPolicy, JetStreamApiError, type ConsumerConfig, type ConsumerInfo, type JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { JetStreamApiCode } from '@outbox-relay/outbox/internal';

export interface DurableConsumerSpec {
  stream: string;
  name: string;
  filterSubject: string;
  /** How long the server waits for an ack before redelivering. */
  ackWaitMs: number;
  /** Unacknowledged messages the server lets the consumer's clients hold at once. */
  maxAckPending: number;
  /** Deliveries before the server gives up; -1 (the default): never, the consumer decides (an inbox counts failures in Postgres). */
  maxDeliver?: number;
  /** What the operator should do when an existing consumer cannot be brought to this spec, e.g. "delete it or set another PAYMENTS_CONSUMER". */
  remedy: string;
}

/**
 * Creates a durable pull consumer (explicit ack, delivering the whole stream from the start), or brings an
 * existing one to `spec`: the durable keeps its position, so a restart resumes after the last acknowledged
 * event. A change the server refuses (some filter changes) is an error that names the consumer, both filters and
 * the remedy. Two processes starting together may both create it: the server returns the existing consumer when
 * the configuration is identical.
 */
export async function ensureDurableConsumer(jsm: JetStreamManager, spec: DurableConsumerSpec): Promise<ConsumerInfo> {
  const wanted = {
    filter_subject: spec.filterSubject,
    ack_wait: nanos(spec.ackWaitMs),
    max_deliver: spec.maxDeliver ?? -1,
    max_ack_pending: spec.maxAckPending,
  } satisfies Partial<ConsumerConfig>;
  let existing: ConsumerInfo | undefined;
  try {
    existing = await jsm.consumers.info(spec.stream, spec.name);
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCode.consumerNotFound)) throw error;
  }
  if (!existing) {
    return jsm.consumers.add(spec.stream, { durable_name: spec.name, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ...wanted });
  }
  const c = existing.config;
  if (c.filter_subject === wanted.filter_subject && c.ack_wait === wanted.ack_wait && c.max_deliver === wanted.max_deliver && c.max_ack_pending === wanted.max_ack_pending) {
    return existing;
  }
  try {
    return await jsm.consumers.update(spec.stream, spec.name, wanted);
  } catch (error) {
    throw new Error(
      `durable consumer ${spec.name} on ${spec.stream} (filter "${c.filter_subject ?? ''}") cannot be changed to filter ` +
        `"${spec.filterSubject}" (${(error as Error).message}); ${spec.remedy}`,
      { cause: error },
    );
  }
}
