// Where an end-to-end latency goes, event by event (one host, so one clock for Postgres, NATS and the benchmark):
//   createdAt → stored     the relay: read, publish and the server's store (JetStream message timestamp)
//   stored → received      delivery: NATS to the consumer, and the consumer's event loop in the benchmark process
// The p99 of each segment alone does not say which one makes the end-to-end p99 (the slowest events of one
// segment need not be those of the other), so the events at or above the end-to-end p99 are also split: the
// median of each segment among them, and the slowest event's own split.
import { summarize, type Summary } from './stats';

export interface EventTimes {
  /** The outbox row's created_at (ms). */
  createdAt: number;
  /** When this client had the 201 answer (ms). */
  answered: number;
  /** The JetStream message timestamp (ms). */
  stored: number;
  /** When the consumer callback ran (ms). */
  received: number;
  /** Its transaction's commit (ms), when the server keeps commit timestamps (track_commit_timestamp). */
  committed?: number;
}

export interface SegmentSplit {
  total: number;
  relayPart: number;
  deliveryPart: number;
}

export interface LatencySplit {
  fromCreated: Summary;
  fromAnswered: Summary;
  relayPart: Summary;
  deliveryPart: Summary;
  writePart: Summary;
  /** Events whose createdAt → received is at or above its p99: their count, and each segment's median among them. */
  slowest: SegmentSplit & { count: number };
  /** The slowest event. */
  worst: SegmentSplit;
  /**
   * With commit timestamps: commit → received (the figure createdAt → received bounds from above), commit → stored
   * (the relay from the commit), and createdAt → commit (the writing transaction itself).
   */
  fromCommit?: { total: Summary; relayPart: Summary; transaction: Summary };
}

const splitOf = (t: EventTimes): SegmentSplit => ({ total: t.received - t.createdAt, relayPart: t.stored - t.createdAt, deliveryPart: t.received - t.stored });

export function splitLatency(times: EventTimes[]): LatencySplit {
  const splits = times.map(splitOf);
  const fromCreated = summarize(splits.map((s) => s.total));
  const slowest = splits.filter((s) => s.total >= fromCreated.p99);
  const none: SegmentSplit = { total: Number.NaN, relayPart: Number.NaN, deliveryPart: Number.NaN };
  const worst = splits.length === 0 ? none : splits.reduce((a, b) => (b.total > a.total ? b : a));
  return {
    fromCreated,
    fromAnswered: summarize(times.map((t) => t.received - t.answered)),
    relayPart: summarize(splits.map((s) => s.relayPart)),
    deliveryPart: summarize(splits.map((s) => s.deliveryPart)),
    writePart: summarize(times.map((t) => t.answered - t.createdAt)),
    slowest: {
      count: slowest.length,
      total: summarize(slowest.map((s) => s.total)).p50,
      relayPart: summarize(slowest.map((s) => s.relayPart)).p50,
      deliveryPart: summarize(slowest.map((s) => s.deliveryPart)).p50,
    },
    worst,
    ...fromCommit(times),
  };
}

function fromCommit(times: EventTimes[]): Pick<LatencySplit, 'fromCommit'> {
  const committed = times.filter((t): t is EventTimes & { committed: number } => t.committed !== undefined);
  if (committed.length === 0 || committed.length !== times.length) return {};
  return {
    fromCommit: {
      total: summarize(committed.map((t) => t.received - t.committed)),
      relayPart: summarize(committed.map((t) => t.stored - t.committed)),
      transaction: summarize(committed.map((t) => t.committed - t.createdAt)),
    },
  };
}
