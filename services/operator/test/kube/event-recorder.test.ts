import type { OutboxRelayResource } from '../../src/api/types';
import type { CoreV1Event } from '../../src/kube/client-node';
import { EventRecorder } from '../../src/kube/event-recorder';
import { testLogger } from '../support/logger';

const relay = { metadata: { name: 'orders', namespace: 'shop', uid: 'uid-1', resourceVersion: '42' }, spec: {} } as unknown as OutboxRelayResource;

describe('EventRecorder', () => {
  test('writes a core/v1 Event about the relay, naming the reporting operator replica', async () => {
    const written: CoreV1Event[] = [];
    const recorder = new EventRecorder({ createEvent: async (e) => void written.push(e) }, { component: 'outbox-relay-operator', instance: 'operator-0', dedupeMs: 60_000, logger: testLogger });
    await expect(recorder.record(relay, { type: 'Warning', reason: 'LeaderFailover', message: 'StepDown orders-a' })).resolves.toBe(true);
    expect(written[0]).toMatchObject({
      metadata: { namespace: 'shop', name: expect.stringMatching(/^orders\.[0-9a-f]+$/) },
      involvedObject: { apiVersion: 'outbox-relay.dev/v1alpha1', kind: 'OutboxRelay', name: 'orders', namespace: 'shop', uid: 'uid-1' },
      type: 'Warning',
      reason: 'LeaderFailover',
      message: 'StepDown orders-a',
      count: 1,
      source: { component: 'outbox-relay-operator' },
      reportingComponent: 'outbox-relay-operator',
      reportingInstance: 'operator-0',
    });
  });

  test('repeats of the same event within the window are dropped; after it they are written again', async () => {
    const written: CoreV1Event[] = [];
    const recorder = new EventRecorder({ createEvent: async (e) => void written.push(e) }, { component: 'c', instance: 'i', dedupeMs: 1000, logger: testLogger });
    const event = { type: 'Normal' as const, reason: 'Paused', message: 'paused' };
    const t0 = new Date('2025-01-01T00:00:00Z');
    await recorder.record(relay, event, t0);
    await expect(recorder.record(relay, event, new Date(t0.getTime() + 999))).resolves.toBe(false);
    await expect(recorder.record(relay, { ...event, message: 'other' }, new Date(t0.getTime() + 999))).resolves.toBe(true);
    await expect(recorder.record(relay, event, new Date(t0.getTime() + 1000))).resolves.toBe(true);
    expect(written.map((e) => e.message)).toEqual(['paused', 'other', 'paused']);
  });

  test('a failed write does not throw (events are best effort) and is not remembered as sent', async () => {
    let fail = true;
    const written: string[] = [];
    const recorder = new EventRecorder(
      { createEvent: async (e) => (fail ? Promise.reject(new Error('503')) : void written.push(e.reason ?? '')) },
      { component: 'c', instance: 'i', dedupeMs: 60_000, logger: testLogger },
    );
    const event = { type: 'Warning' as const, reason: 'LeaderFailover', message: 'x' };
    await expect(recorder.record(relay, event)).resolves.toBe(false);
    fail = false;
    await expect(recorder.record(relay, event)).resolves.toBe(true);
    expect(written).toEqual(['LeaderFailover']);
  });

  test('long messages are cut to what the API server accepts', async () => {
    const written: CoreV1Event[] = [];
    const recorder = new EventRecorder({ createEvent: async (e) => void written.push(e) }, { component: 'c', instance: 'i', dedupeMs: 1, logger: testLogger });
    await recorder.record(relay, { type: 'Normal', reason: 'Long', message: 'x'.repeat(5000) });
    expect(written[0]?.message).toHaveLength(1024);
  });
});
