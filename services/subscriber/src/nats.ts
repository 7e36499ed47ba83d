/** NATS plumbing of the subscriber: the outbox library's connection and stream set-up, shared with the relay. */
import type { JetStreamManager } from '@nats-io/jetstream';
import { connectNats, ensureStream as ensureOutboxStream, type StreamSpec } from '@outbox-relay/outbox';

export { connectNats };

/**
 * Ensures the outbox stream exists (same definition as the relay's, so whichever starts first creates it).
 * Several processes may race to create it; a lost race shows up as an error, and the retry then finds the stream.
 */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureOutboxStream(jsm, spec);
      return;
    } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}
