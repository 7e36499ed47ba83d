import { jetstreamManager, JetStreamError } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { JetStreamApiCode, jetStreamApiCode } from './jetstream-codes';
import { subjectFilterCovers } from './stream-config';

/**
 * A publish was answered nothing but "no responders" (503) until it timed out, yet its stream exists: the cluster
 * has not elected the stream's leader yet (a kill or a network cut takes seconds). Retryable, like a timeout; unlike
 * NoRespondersError it does not mean that the stream is gone, so the relay does not ensure it again.
 */
export class StreamWithoutLeaderError extends JetStreamError {
  readonly stream: string;
  constructor(stream: string) {
    super(`stream ${stream} exists, but no server has listened on its subjects until the publish timed out (its cluster is electing a leader)`);
    this.name = 'StreamWithoutLeaderError';
    this.stream = stream;
  }
}

/**
 * Whether `stream` no longer takes `subject`: the meta leader says there is no such stream, nothing answers
 * JetStream requests at all, or the stream's subjects no longer cover it. A stream whose replicas are electing a
 * leader is not answered for (nobody holds its state to report it) and counts as there.
 */
export async function streamIsGone(nc: NatsConnection, stream: string, subject: string, timeoutMs: number): Promise<boolean> {
  try {
    const info = await (await jetstreamManager(nc, { timeout: timeoutMs, checkAPI: false })).streams.info(stream);
    return !(info.config.subjects ?? []).some((filter) => subjectFilterCovers(filter, subject));
  } catch (error) {
    // JetStreamNotEnabled is the client's name for "no responders" to the API itself (the class is not exported).
    return jetStreamApiCode(error) === JetStreamApiCode.streamNotFound || (error as Error | null)?.name === 'JetStreamNotEnabled';
  }
}
