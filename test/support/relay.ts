import type { NatsConnection } from '@nats-io/transport-node';
import { defaultRelaySettings, Outbox, OutboxRelay, type RelayObserver, type RelaySettings } from '@outbox-relay/outbox';
import { createLogger, type Logger } from '@outbox-relay/runtime';
import { createTestSchema, type TestSchema } from './db';
import { TEST_DATABASE_URL, TEST_NATS_URL } from './env';
import { createTestStream, type TestStream } from './nats';
import { listeningPort, startService, type ServiceProcess } from './processes';

export const quietLogger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');

/** An in-process relay on the test's schema and stream, with short timings so tests run fast. */
export function makeRelay(
  db: TestSchema,
  stream: Pick<TestStream, 'stream' | 'subjectPrefix'>,
  nc: NatsConnection,
  overrides: Partial<RelaySettings> = {},
  observer?: RelayObserver,
  logger: Logger = quietLogger,
): OutboxRelay {
  return new OutboxRelay(
    { pool: db.pool, nats: nc, logger, observer },
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

/** What a relay test works on; fresh for each test (see relayTestBed). */
export interface RelayTestBed {
  readonly db: TestSchema;
  readonly ns: TestStream;
  readonly outbox: Outbox;
  /** Relays the test started and pushed here: stopped after the test. */
  readonly relays: OutboxRelay[];
}

/**
 * Before each test of the file: its own schema (with `partitions`), stream and Outbox; after it, the relays the
 * test pushed to `relays` are stopped and everything is dropped. Call it at the top of a test file.
 */
export function relayTestBed(prefix: string, options: { partitions?: number } = {}): RelayTestBed {
  let current: { db: TestSchema; ns: TestStream; outbox: Outbox } | null = null;
  const relays: OutboxRelay[] = [];
  const now = () => {
    if (!current) throw new Error('the relay test bed exists only inside a test');
    return current;
  };
  beforeEach(async () => {
    const db = await createTestSchema(prefix, options.partitions === undefined ? {} : { partitions: options.partitions });
    const ns = await createTestStream(prefix);
    current = { db, ns, outbox: new Outbox({ pool: db.pool, schema: db.schema }) };
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
    const { db, ns, outbox } = now();
    current = null;
    await outbox.close();
    await ns.drop();
    await db.drop();
  });
  return {
    get db() {
      return now().db;
    },
    get ns() {
      return now().ns;
    },
    get outbox() {
      return now().outbox;
    },
    relays,
  };
}

/**
 * The stand-alone relay process's environment on the test's schema and stream: what every process-level relay test
 * shares (its own HTTP port, the shared servers), with `extra` on top.
 */
export function relayProcessEnv(
  db: Pick<TestSchema, 'schema'>,
  stream: Pick<TestStream, 'stream' | 'subjectPrefix'>,
  instanceId: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: TEST_DATABASE_URL,
    NATS_URL: TEST_NATS_URL,
    OUTBOX_SCHEMA: db.schema,
    OUTBOX_STREAM: stream.stream,
    OUTBOX_SUBJECT_PREFIX: stream.subjectPrefix,
    RELAY_HTTP_PORT: '0',
    RELAY_INSTANCE_ID: instanceId,
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/** Starts `services/relay/dist/main.js` with relayProcessEnv; resolves once its HTTP port is known. */
export async function startRelayProcess(
  db: Pick<TestSchema, 'schema'>,
  stream: Pick<TestStream, 'stream' | 'subjectPrefix'>,
  instanceId: string,
  extra: Record<string, string> = {},
): Promise<{ proc: ServiceProcess; port: number; url: string }> {
  const proc = startService('services/relay/dist/main.js', relayProcessEnv(db, stream, instanceId, extra));
  const port = await listeningPort(proc, 'health endpoints listening');
  return { proc, port, url: `http://127.0.0.1:${port}` };
}
