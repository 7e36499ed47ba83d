import type { NatsConnection } from '@nats-io/transport-node';
import { defaultRelaySettings, OutboxRelay, type RelayObserver, type RelaySettings } from '@outbox-relay/outbox';
import { createLogger } from '@outbox-relay/runtime';
import type { TestSchema } from './db';
import type { TestStream } from './nats';

export const quietLogger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');

/** An in-process relay on the test's schema and stream, with short timings so tests run fast. */
export function makeRelay(
  db: TestSchema,
  stream: Pick<TestStream, 'stream' | 'subjectPrefix'>,
  nc: NatsConnection,
  overrides: Partial<RelaySettings> = {},
  observer?: RelayObserver,
): OutboxRelay {
  return new OutboxRelay(
    { pool: db.pool, nats: nc, logger: quietLogger, observer },
    defaultRelaySettings({
      schema: db.schema,
      stream: stream.stream,
      subjectPrefix: stream.subjectPrefix,
      leaseMs: 1000,
      renewMs: 200,
      pollMs: 50,
      backoffMinMs: 20,
      backoffMaxMs: 500,
      publishTimeoutMs: 2000,
      ...overrides,
    }),
  );
}

/** A RelayObserver that keeps every call, for tests of what the relay reports. */
export function recordingObserver() {
  const calls = {
    published: [] as Array<{ partition: number; count: number; duplicates: number; commitToAckMs: number[] }>,
    publishFailed: [] as Array<{ partition: number; permanent: boolean }>,
    deadLettered: [] as number[],
    leadership: [] as Array<{ partition: number; epoch: number | null }>,
    retention: [] as Array<{ table: string; rows: number }>,
  };
  const observer: RelayObserver = {
    published: (partition, records, duplicates, ackedAtMs) =>
      calls.published.push({ partition, count: records.length, duplicates, commitToAckMs: records.map((r) => ackedAtMs - r.createdAt.getTime()) }),
    publishFailed: (partition, permanent) => calls.publishFailed.push({ partition, permanent }),
    deadLettered: (partition) => calls.deadLettered.push(partition),
    leadershipChanged: (partition, epoch) => calls.leadership.push({ partition, epoch }),
    retentionDeleted: (table, rows) => calls.retention.push({ table, rows }),
  };
  return { observer, calls };
}
