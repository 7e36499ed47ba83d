/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import { ControllerHarness } from '../support/harness';
import { type ClientNodeGlobal } from '../support/kube';
import { waitFor } from '@outbox-relay/test-support';

const ns = 'terminating';

/**
 * A deleted pod stays Terminating for its grace period (Ready, its relay still answering) before it goes. The
 * operator must already count it out: not a ready replica, not a standby that makes the relay fully redundant.
 */
describe('Terminating relay pods', () => {
  let h: ControllerHarness;
  afterEach(() => h.stop());

  test('a ready follower being deleted stops counting at once, though the kubelet still reports it Ready', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders', { replicas: 2 });
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 2 });
    await h.addPod('orders', 'orders-b', { leading: false });
    await h.waitForStatus('orders', 'two ready replicas', (s) => s.readyReplicas === 2 && s.currentLeader === 'orders-a');
    expect(h.condition('orders', 'Ready')).toMatchObject({ status: 'True', reason: 'Ready' });

    h.api.delete('v1', 'Pod', ns, 'orders-b');
    const terminating = h.api.get('v1', 'Pod', ns, 'orders-b');
    expect(terminating?.metadata).toMatchObject({ deletionTimestamp: expect.any(String) });
    expect(JSON.stringify(terminating?.status)).toContain('"status":"True"');

    await h.waitForStatus('orders', 'one ready replica', (s) => s.readyReplicas === 1 && s.replicas === 1);
    expect(h.condition('orders', 'Ready')).toMatchObject({ status: 'True', reason: 'ReducedRedundancy', message: '1 of 2 pods ready' });
    expect(h.status('orders').currentLeader).toBe('orders-a');

    h.api.finishTermination(ns, 'orders-b');
    await h.reconciled(2);
    expect(h.status('orders')).toMatchObject({ readyReplicas: 1, replicas: 1, currentLeader: 'orders-a' });
    expect(h.evictions()).toEqual([]);
  });

  test('a leader deleted while it still leads stays the reported leader until a standby takes over; it is not evicted', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders', { replicas: 2 });
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 2 });
    await h.addPod('orders', 'orders-b', { leading: false });
    await h.waitForStatus('orders', 'orders-a leads', (s) => s.currentLeader === 'orders-a' && s.readyReplicas === 2);

    h.api.delete('v1', 'Pod', ns, 'orders-a');
    await h.waitForStatus('orders', 'the leader counted out', (s) => s.readyReplicas === 1);
    // Its relay has not released the lease yet: the database, not the pod's deletion, says who publishes.
    expect(h.status('orders').currentLeader).toBe('orders-a');
    h.relays.setLeading('orders-a', false);
    h.relays.setLeading('orders-b', true, 3);
    await h.waitForStatus('orders', 'orders-b leads', (s) => s.currentLeader === 'orders-b' && s.leaderEpoch === 3);
    h.api.finishTermination(ns, 'orders-a');
    await h.reconciled(2);
    expect(h.evictions()).toEqual([]);
    expect(h.podDeletions()).toEqual([]);
  });
});
