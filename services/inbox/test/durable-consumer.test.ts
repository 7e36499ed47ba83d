/**
 * One way to set up a durable consumer for every process that consumes events (the payment worker, the
 * subscriber): created with explicit acks from the stream's start, an existing one brought to the configured
 * settings, and a change the server refuses named with the consumer, both filters and the remedy.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { ensureDurableConsumer } from '@outbox-relay/inbox';
import { createTestStream, type TestStream } from '@outbox-relay/test-support';

let ns: TestStream;

beforeAll(async () => {
  ns = await createTestStream('durable');
  const jsm = await jetstreamManager(ns.nc);
  await jsm.streams.add({ name: ns.stream, subjects: [`${ns.subjectPrefix}.>`], duplicate_window: nanos(120_000) });
});
afterAll(() => ns.drop());

it('creates the consumer, then brings an existing one to the configured ack_wait, max_ack_pending and max_deliver', async () => {
  const jsm = await jetstreamManager(ns.nc);
  const spec = { stream: ns.stream, name: 'settings', filterSubject: `${ns.subjectPrefix}.Order.OrderCreated`, ackWaitMs: 1000, maxAckPending: 10, remedy: 'delete it' };
  const created = await ensureDurableConsumer(jsm, spec);
  expect(created.config).toMatchObject({ ack_policy: 'explicit', deliver_policy: 'all', max_deliver: -1, ack_wait: nanos(1000), max_ack_pending: 10, filter_subject: spec.filterSubject });
  const updated = await ensureDurableConsumer(jsm, { ...spec, ackWaitMs: 3000, maxAckPending: 20, maxDeliver: 5 });
  expect(updated.config).toMatchObject({ ack_wait: nanos(3000), max_ack_pending: 20, max_deliver: 5 });
  const again = await ensureDurableConsumer(jsm, { ...spec, ackWaitMs: 3000, maxAckPending: 20, maxDeliver: 5 });
  expect(again.created).toEqual(updated.created);
});

it('moves an existing consumer to a new filter', async () => {
  const jsm = await jetstreamManager(ns.nc);
  const spec = { stream: ns.stream, name: 'refilter', filterSubject: `${ns.subjectPrefix}.A.>`, ackWaitMs: 1000, maxAckPending: 10, remedy: 'delete it' };
  await ensureDurableConsumer(jsm, spec);
  const moved = await ensureDurableConsumer(jsm, { ...spec, filterSubject: `${ns.subjectPrefix}.B.>` });
  expect(moved.config.filter_subject).toBe(`${ns.subjectPrefix}.B.>`);
});

it('names the consumer, both filters and the remedy when the server refuses the change', async () => {
  const jsm = await jetstreamManager(ns.nc);
  const spec = { stream: ns.stream, name: 'refused', filterSubject: `${ns.subjectPrefix}.A.>`, ackWaitMs: 1000, maxAckPending: 10, remedy: 'delete it or set another PAYMENTS_CONSUMER' };
  await ensureDurableConsumer(jsm, spec);
  // A filter outside the stream's subjects: the server refuses the update.
  await expect(ensureDurableConsumer(jsm, { ...spec, filterSubject: 'elsewhere.>' })).rejects.toThrow(
    new RegExp(`durable consumer refused on ${ns.stream} \\(filter "${ns.subjectPrefix}\\.A\\.>"\\) cannot be changed to filter "elsewhere\\.>" .*; delete it or set another PAYMENTS_CONSUMER`),
  );
});
