import type { OutboxRelayResource } from '../../src/api/types';
import type { V1Pod } from '../../src/kube/client-node';
import { observe, observePod } from '../../src/observe';
import type { PodProber } from '../../src/prober';

const pod = (name: string, extra: Partial<V1Pod> = {}): V1Pod => ({
  metadata: { name, uid: `uid-${name}`, creationTimestamp: '2025-03-01T10:00:00Z' as unknown as Date, ...extra.metadata },
  status: { podIP: '10.0.0.1', ...extra.status },
});

describe('observePod', () => {
  test('readiness and when it last changed come from the Ready condition', () => {
    const ready = observePod(pod('a', { status: { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2025-03-01T10:00:05Z' as unknown as Date }] } }));
    expect(ready).toEqual({ name: 'a', uid: 'uid-a', ip: '10.0.0.1', ready: true, readySince: '2025-03-01T10:00:05Z', deleting: false, createdAt: '2025-03-01T10:00:00Z' });
    const unready = observePod(pod('b', { status: { conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: '2025-03-01T10:01:00Z' as unknown as Date }] } }));
    expect(unready).toMatchObject({ ready: false, notReadySince: '2025-03-01T10:01:00Z' });
    expect(unready.readySince).toBeUndefined();
  });

  test('timestamps may be Dates (typed list calls) or strings (watch events)', () => {
    const observed = observePod(
      pod('c', {
        metadata: { name: 'c', creationTimestamp: new Date('2025-03-01T10:00:00Z') },
        status: { conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: new Date('2025-03-01T10:02:00Z') }] },
      }),
    );
    expect(observed).toMatchObject({ createdAt: '2025-03-01T10:00:00.000Z', notReadySince: '2025-03-01T10:02:00.000Z' });
  });

  test('a terminating pod is deleting and never ready; a pod without an IP has none', () => {
    const terminating = observePod(
      pod('d', {
        metadata: { name: 'd', deletionTimestamp: '2025-03-01T10:03:00Z' as unknown as Date },
        status: { podIP: undefined as unknown as string, conditions: [{ type: 'Ready', status: 'True' }] },
      }),
    );
    expect(terminating).toMatchObject({ deleting: true, ready: false });
    expect(terminating.ip).toBeUndefined();
  });
});

describe('observe', () => {
  test('probes every pod with an IP, leaves the others unprobed, and sorts pods by name', async () => {
    const probed: string[] = [];
    const prober: PodProber = {
      status: async (target) => {
        probed.push(target.name);
        return target.name === 'b' ? null : { instanceId: target.name, leading: true, partitions: [{ partition: 0, leading: true, epoch: 2 }] };
      },
      stepDown: async () => undefined,
    };
    const relay = { metadata: { name: 'orders' }, spec: {} } as unknown as OutboxRelayResource;
    const now = new Date('2025-03-01T11:00:00Z');
    const state = await observe({
      relay,
      pods: [pod('c', { status: { podIP: '' } }), pod('b'), pod('a')],
      secrets: [{ metadata: { name: 'orders-db', namespace: 'shop', labels: { team: 'x' } }, data: { url: 'cG9zdGdyZXM6Ly8=' }, type: 'Opaque' }],
      defaultImage: 'registry.test/relay:1',
      prober,
      now: () => now,
    });
    expect(state.now).toBe(now);
    // Of a Secret only its name and data reach reconcile; the default image is passed through.
    expect(state.secrets).toEqual([{ name: 'orders-db', data: { url: 'cG9zdGdyZXM6Ly8=' } }]);
    expect(state.defaultImage).toBe('registry.test/relay:1');
    expect(state.pods.map((p) => [p.name, p.report === undefined ? 'unprobed' : p.report === null ? 'failed' : 'answered'])).toEqual([
      ['a', 'answered'],
      ['b', 'failed'],
      ['c', 'unprobed'],
    ]);
    expect(probed.sort()).toEqual(['a', 'b']);
  });
});
