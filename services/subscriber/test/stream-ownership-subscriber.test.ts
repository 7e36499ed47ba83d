/** The subscriber passes the stream settings down: in verify mode it creates nothing; in create mode it uses the limits. */
import pino from 'pino';
import { jetstreamManager } from '@nats-io/jetstream';
import { StreamConfigError } from '@outbox-relay/outbox';
import { loadSubscriberConfig, startSubscriber } from '@outbox-relay/subscriber';
import { createTestStream, type TestStream } from '@outbox-relay/test-support';

let ns: TestStream;
beforeEach(async () => {
  ns = await createTestStream('subown');
});
afterEach(() => ns.drop());

const logger = pino({ level: 'silent' });

it('reads the stream variables and the NATS TLS files', () => {
  const config = loadSubscriberConfig({
    SUBSCRIBER_ID: 'x',
    OUTBOX_STREAM_MANAGEMENT: 'verify',
    OUTBOX_STREAM_STORAGE: 'memory',
    NATS_TLS_CA_FILE: '/etc/nats-tls/ca.crt',
  });
  expect(config.streamOwnership).toEqual({ management: 'verify', minDuplicateWindowMs: 0, limits: { storage: 'memory' } });
  expect(config.nats).toEqual({ url: 'nats://127.0.0.1:4222', credsFile: undefined, tls: { caFile: '/etc/nats-tls/ca.crt', certFile: undefined, keyFile: undefined } });
});

it('refuses to start in verify mode without the stream, creating none', async () => {
  const error = await startSubscriber({
    nc: ns.nc,
    stream: ns.stream,
    subjectPrefix: ns.subjectPrefix,
    subscriberId: 'verify',
    logger,
    streamOwnership: { management: 'verify', minDuplicateWindowMs: 0 },
  }).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(StreamConfigError);
  expect(error).toMatchObject({ problem: 'missing', stream: ns.stream });
  expect(await (await jetstreamManager(ns.nc)).streams.names().next()).not.toContain(ns.stream);
});

it('creates the stream with the configured limits in create mode', async () => {
  const subscriber = await startSubscriber({
    nc: ns.nc,
    stream: ns.stream,
    subjectPrefix: ns.subjectPrefix,
    subscriberId: 'create',
    logger,
    streamOwnership: { management: 'create', limits: { storage: 'memory', maxMsgs: 1000 } },
  });
  await subscriber.stop();
  expect((await (await jetstreamManager(ns.nc)).streams.info(ns.stream)).config).toMatchObject({ storage: 'memory', max_msgs: 1000 });
});
