import { JetStreamApiCodes } from '@nats-io/jetstream';

/**
 * The JetStream API error codes this system acts on, by name (the server's `err_code`, nats-server's
 * server/errors.json). A code is a contract of the server; its message text is not. The client library names a
 * few of them (`JetStreamApiCodes`); the others are taken from the server's list.
 */
export const JetStreamApiCode = {
  /** The durable consumer asked for does not exist. */
  consumerNotFound: JetStreamApiCodes.ConsumerNotFound,
  /** A message larger than the stream's max_msg_size. */
  messageTooLarge: 10054,
  /** A stream of that name exists with another configuration (another process created it first). */
  streamNameInUse: 10058,
  /** A stream's subjects overlap those of another stream (the server refuses to create or widen it). */
  subjectsOverlap: 10065,
  /** The stream asked for does not exist (deleted, or not created yet). */
  streamNotFound: JetStreamApiCodes.StreamNotFound,
  /** `Nats-Expected-Last-Msg-Id` did not match. */
  wrongLastMsgId: 10070,
  /** `Nats-Expected-Last-Sequence` did not match. */
  wrongLastSequence: JetStreamApiCodes.StreamWrongLastSequence,
  /** A roll-up header on a stream that does not allow roll-ups. */
  rollupNotPermitted: 10115,
  /** A last-sequence expectation failed, reported without the sequence (the server's answer to a failed `Nats-Expected-Last-Subject-Sequence`). */
  wrongLastSubjectSequence: JetStreamApiCodes.StreamWrongLastSequenceUnknown,
} as const;

/** The API error code of a JetStream error, if it has one. */
export function jetStreamApiCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}
