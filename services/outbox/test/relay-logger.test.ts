/**
 * An application need not adopt pino to use the library (issue 15): a relay takes any object with debug, info,
 * warn and error taking (context, message), with or without `child`, and logs nothing when it is given no logger.
 */
import { Outbox, OutboxRelay, defaultRelaySettings, type Logger, type LogContext } from '@outbox-relay/outbox';
import { childLogger, silentLogger } from '@outbox-relay/runtime';
import { createTestSchema, createTestStream, readStream, waitFor, type TestSchema, type TestStream } from '@outbox-relay/test-support';

/** A logger with the four methods and no `child`, as a hand-written adapter would be. */
function recordingLogger(): { logger: Logger; lines: Array<{ level: string; message: string; context: LogContext }> } {
  const lines: Array<{ level: string; message: string; context: LogContext }> = [];
  const at = (level: string) => (context: LogContext, message: string) => void lines.push({ level, message, context });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

let db: TestSchema;
let ts: TestStream;
beforeAll(async () => {
  db = await createTestSchema('relay_logger');
  ts = await createTestStream('relay_logger');
});
afterAll(async () => {
  await ts.drop();
  await db.drop();
});

const settings = () =>
  defaultRelaySettings({ schema: db.schema, stream: ts.stream, subjectPrefix: ts.subjectPrefix, leaseMs: 1000, renewMs: 200, pollMs: 50 });

it('a logger without child gets the relay’s bindings on each line, each line’s own fields winning', async () => {
  const { logger, lines } = recordingLogger();
  const relay = new OutboxRelay({ pool: db.pool, nats: ts.nc, logger }, settings());
  await relay.start();
  try {
    const leading = await waitFor('the relay says it leads partition 0', () => lines.find((l) => l.message === 'publishing as leader'));
    expect(leading.level).toBe('info');
    expect(leading.context).toMatchObject({ component: 'relay', instanceId: relay.settings.instanceId, partition: 0 });
    expect(typeof leading.context.epoch).toBe('number');
  } finally {
    await relay.stop();
  }
  expect(lines.find((l) => l.message === 'relay stopped')?.context).toMatchObject({ component: 'relay', instanceId: relay.settings.instanceId });

  const bound = childLogger(childLogger(logger, { a: 1, b: 1 }), { b: 2 });
  bound.warn({ b: 3, c: 3 }, 'nested');
  expect(lines.at(-1)).toEqual({ level: 'warn', message: 'nested', context: { a: 1, b: 3, c: 3 } });
});

it('without a logger the relay publishes all the same (silentLogger); console is a Logger as it is', async () => {
  const relay = new OutboxRelay({ pool: db.pool, nats: ts.nc }, settings());
  await relay.start();
  const outbox = new Outbox({ pool: db.pool, schema: db.schema });
  try {
    await outbox.transaction((tx) => outbox.enqueue(tx, { aggregateType: 'Order', aggregateId: 'silent-1', eventType: 'OrderCreated', payload: { n: 1 } }));
    const stored = await waitFor('the event in the stream', async () => (await readStream(ts.nc, ts.stream)).find((m) => m.aggregateId === 'silent-1'));
    expect(stored.eventType).toBe('OrderCreated');
  } finally {
    await relay.stop();
    await outbox.close();
  }
  // Type-checked by `npm run typecheck`: console has no child and needs no adapter.
  const fromConsole: Logger = console;
  expect(childLogger(fromConsole, { x: 1 })).not.toBe(fromConsole);
  expect(childLogger(silentLogger, { x: 1 })).toBe(silentLogger);
});
