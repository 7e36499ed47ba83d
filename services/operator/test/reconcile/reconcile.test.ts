import { reconcile } from '../../src/reconcile';
import type { OutboxRelayResource } from '../../src/api/types';
import { NOW, leaderPod, makePod, makeRelay, observe, rolledOutDeployment, secondsLater } from './fixtures';

const kinds = (relay: OutboxRelayResource) => reconcile(observe(relay, [])).objects.map((o) => o.kind);

describe('reconcile', () => {
  test('desired objects, in apply order, all owned by the relay and labelled', () => {
    const relay = makeRelay();
    const { objects } = reconcile(observe(relay, []));
    expect(objects.map((o) => o.kind)).toEqual(['ServiceAccount', 'Service', 'PodDisruptionBudget', 'Deployment']);
    for (const o of objects) {
      expect(o.metadata?.ownerReferences).toEqual([expect.objectContaining({ uid: relay.metadata?.uid, controller: true })]);
      expect(o.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('outbox-relay-operator');
    }
  });

  test('status basics: observedGeneration, selector, replica counts from the pods', () => {
    const relay = makeRelay({ generation: 4, spec: { replicas: 3 } });
    const pods = [leaderPod('relay-a'), makePod('relay-b', { ready: false }), makePod('relay-c', { deleting: true })];
    const { status } = reconcile(observe(relay, pods));
    expect(status).toMatchObject({
      observedGeneration: 4,
      replicas: 2,
      readyReplicas: 1,
      selector: 'app.kubernetes.io/name=outbox-relay,app.kubernetes.io/instance=orders',
      currentLeader: 'relay-a',
      leaderEpoch: 7,
      leaderSince: NOW.toISOString(),
    });
    expect(status).not.toHaveProperty('phase');
  });

  test('works on a spec the API server did not default', () => {
    const relay = makeRelay();
    relay.spec = { database: { secretRef: { name: 'db', key: 'url' } }, nats: { url: 'nats://n:4222' } } as never;
    const result = reconcile(observe(relay, [], { deployment: null }));
    const deployment = result.objects.find((o) => o.kind === 'Deployment') as { spec?: { replicas?: number } };
    expect(deployment.spec?.replicas).toBe(2);
    expect(result.status.conditions?.find((c) => c.type === 'Degraded')?.status).toBe('False');
  });

  describe('scaling', () => {
    test('spec.replicas drives the Deployment; Progressing until the pods match', () => {
      const relay = makeRelay({ spec: { replicas: 3 } });
      const result = reconcile(observe(relay, [leaderPod('relay-a'), makePod('relay-b')], { deployment: rolledOutDeployment(2) }));
      expect((result.objects.find((o) => o.kind === 'Deployment') as { spec?: { replicas?: number } }).spec?.replicas).toBe(3);
      expect(result.status.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'True', reason: 'Scaling', message: '2 of 3 pods exist' });

      const done = reconcile(observe(relay, [leaderPod('relay-a'), makePod('relay-b'), makePod('relay-c')], { deployment: rolledOutDeployment(3) }));
      expect(done.status.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'False', reason: 'Complete' });
      expect(done.status.readyReplicas).toBe(3);
    });

    test('no Deployment yet: Progressing Creating', () => {
      const result = reconcile(observe(makeRelay(), [], { deployment: null }));
      expect(result.status.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'True', reason: 'Creating' });
    });
  });

  describe('paused', () => {
    const paused = makeRelay({ spec: { paused: true } });

    test('objects and actions empty, status still written with Paused True and a Paused event', () => {
      const result = reconcile(observe(paused, [leaderPod('relay-a'), makePod('relay-b')]));
      expect(result.objects).toEqual([]);
      expect(result.actions).toEqual([]);
      expect(result.requeueAfterMs).toBeUndefined();
      expect(result.status.currentLeader).toBe('relay-a');
      expect(result.status.conditions?.find((c) => c.type === 'Paused')).toMatchObject({ status: 'True', reason: 'Paused' });
      expect(result.status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'Paused' });
      expect(result.events).toContainEqual(expect.objectContaining({ type: 'Normal', reason: 'Paused' }));
    });

    test('resuming announces itself once and applies objects again', () => {
      const pausedStatus = reconcile(observe(paused, [leaderPod('relay-a')])).status;
      const resumed = reconcile(observe(makeRelay({ status: pausedStatus }), [leaderPod('relay-a')], { now: secondsLater(10) }));
      expect(resumed.objects).toHaveLength(4);
      expect(resumed.events.map((e) => e.reason)).toContain('Resumed');
      const later = reconcile(observe(makeRelay({ status: resumed.status }), [leaderPod('relay-a')], { now: secondsLater(20) }));
      expect(later.events).toEqual([]);
    });
  });

  test('a relay being deleted: nothing applied (garbage collection removes the children)', () => {
    const relay = makeRelay();
    relay.metadata = { ...relay.metadata, deletionTimestamp: NOW };
    expect(reconcile(observe(relay, [leaderPod('relay-a')])).objects).toEqual([]);
  });

  test('LeaderElected event once per new leader or epoch', () => {
    const first = reconcile(observe(makeRelay(), [leaderPod('relay-a', 7)]));
    expect(first.events).toEqual([{ type: 'Normal', reason: 'LeaderElected', message: 'relay-a leads partition 0 at epoch 7' }]);
    const same = reconcile(observe(makeRelay({ status: first.status }), [leaderPod('relay-a', 7)], { now: secondsLater(5) }));
    expect(same.events).toEqual([]);
    const next = reconcile(observe(makeRelay({ status: same.status }), [makePod('relay-a'), leaderPod('relay-b', 8)], { now: secondsLater(10) }));
    expect(next.events).toEqual([{ type: 'Normal', reason: 'LeaderElected', message: 'relay-b leads partition 0 at epoch 8' }]);
    expect(next.status.leaderSince).toBe(secondsLater(10).toISOString());
  });

  test('level-triggered: the same observation gives the same result regardless of observedGeneration', () => {
    const pods = [leaderPod('relay-a')];
    const first = reconcile(observe(makeRelay(), pods));
    const upToDate = makeRelay({ status: first.status });
    const second = reconcile(observe(upToDate, pods));
    expect(second.objects).toEqual(first.objects);
    expect(second.status).toEqual(first.status);
  });

  test('pure: the input is not modified', () => {
    const relay = makeRelay({ spec: { replicas: 1 } });
    const snapshot = JSON.stringify(relay);
    reconcile(observe(relay, [leaderPod('relay-a')]));
    expect(JSON.stringify(relay)).toBe(snapshot);
  });

  test('every kind is produced for any valid replica count, including zero', () => {
    expect(kinds(makeRelay({ spec: { replicas: 0 } }))).toHaveLength(4);
  });
});
