import type { NatsConnection } from '@nats-io/transport-node';
import { createLogger, defaultRelaySettings, OutboxRelay, type RelaySettings } from '@outbox-relay/outbox';
import type { TestSchema } from './db';
import type { TestStream } from './nats';

export const quietLogger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');

/** An in-process relay on the test's schema and stream, with short timings so tests run fast. */
export function makeRelay(
  db: TestSchema,
  stream: Pick<TestStream, 'stream' | 'subjectPrefix'>,
  nc: NatsConnection,
  overrides: Partial<RelaySettings> = {},
): OutboxRelay {
  return new OutboxRelay(
    { pool: db.pool, nats: nc, logger: quietLogger },
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
