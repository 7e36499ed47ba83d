/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import { ControllerHarness } from '../support/harness';
import { type ClientNodeGlobal } from '../support/kube';
import type { JsonObject } from '../support/fake-kube-api';
import { waitFor } from '@outbox-relay/test-support';

const ns = 'partitions';

/**
 * spec.partitionCount on the fake API server with the real client-node: the test plays the Job controller (a Job's
 * Complete or Failed condition) and the relays (the partition count they report in /status).
 */
describe('spec.partitionCount through a Job', () => {
  let h: ControllerHarness;
  afterEach(() => h.stop());

  const jobs = () => h.api.list('batch/v1', 'Job', ns).map((j) => (j.metadata as { name: string }).name).sort();
  const finishJob = (name: string, type: 'Complete' | 'Failed') =>
    h.api.update('batch/v1', 'Job', ns, name, (j) => {
      j.status = { conditions: [{ type, status: 'True', ...(type === 'Failed' ? { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' } : {}) }] } as JsonObject;
    }, { scope: 'status', manager: 'kube-controller-manager' });
  const applied = () => h.condition('orders', 'PartitionCountApplied');
  /** Makes the controller look again now (an annotation change is a watch event), `times` times. */
  const lookAgain = async (times: number) => {
    for (let i = 0; i < times; i++) {
      const before = await h.reconciles();
      h.api.update('outbox-relay.dev/v1alpha1', 'OutboxRelay', ns, 'orders', (r) => {
        (r.metadata as { annotations?: Record<string, string> }).annotations = { touched: String(i) };
      }, { manager: 'kubectl' });
      await waitFor('the controller to look again', async () => (await h.reconciles()) > before);
    }
  };

  test('a change runs one Job; the relays following the new count complete it; a failed Job is reported and tried again only once deleted', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders', { partitionCount: 2 });
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 3, partitions: 1 });
    await h.addPod('orders', 'orders-b', { leading: false, partitions: 1 });

    await waitFor('the partition-count Job', () => h.api.get('batch/v1', 'Job', ns, 'orders-partitions-1'));
    const job = h.api.get('batch/v1', 'Job', ns, 'orders-partitions-1')!;
    expect((job.metadata as { annotations: Record<string, string> }).annotations['outbox-relay.dev/partitions']).toBe('2');
    await h.waitForStatus('orders', 'the change reported', (s) => s.partitions === 1 && applied()?.reason === 'MigrationRunning');
    // Looked at again and again while it runs: still one Job.
    await lookAgain(3);
    expect(jobs()).toEqual(['orders-partitions-1']);

    finishJob('orders-partitions-1', 'Complete');
    await h.waitForStatus('orders', 'waiting for the relays', () => applied()?.reason === 'WaitingForRelays');
    h.relays.setPartitionCount('orders-a', 2);
    h.relays.setPartitionCount('orders-b', 2);
    await h.waitForStatus('orders', 'the count applied', (s) => s.partitions === 2 && applied()?.status === 'True' && applied()?.reason === 'CountApplied');

    h.editSpec('orders', (spec) => (spec.partitionCount = 3));
    await waitFor('a second Job', () => h.api.get('batch/v1', 'Job', ns, 'orders-partitions-2'));
    finishJob('orders-partitions-2', 'Failed');
    await h.waitForStatus('orders', 'the failure reported', () => applied()?.reason === 'MigrationFailed');
    expect(applied()?.message).toMatch(/orders-partitions-2 .* \(Job has reached the specified backoff limit\).*Delete the Job to try again/);
    await lookAgain(3);
    expect(jobs()).toEqual(['orders-partitions-1', 'orders-partitions-2']);

    h.api.delete('batch/v1', 'Job', ns, 'orders-partitions-2');
    await waitFor('the change tried again', () => h.api.get('batch/v1', 'Job', ns, 'orders-partitions-2'));
    await h.waitForStatus('orders', 'running again', () => applied()?.reason === 'MigrationRunning');
  });

  test('an object stored by an older CRD with the defaulted spec.partitions: 1 changes nothing (the schema has 4)', async () => {
    h = await ControllerHarness.start(ns);
    // Stored as the old CRD defaulted it, past today's pruning (as an object written long ago may sit in etcd).
    h.createRelay('orders', { partitions: 1 }, { admission: false });
    expect((h.relay('orders')?.spec as { partitions?: number }).partitions).toBe(1);
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 3, partitions: 4 });
    await h.waitForStatus('orders', 'the count reported', (s) => s.partitions === 4 && applied()?.reason === 'NotManaged');
    await lookAgain(2);
    expect(h.api.list('batch/v1', 'Job', ns)).toEqual([]);
  });

  test('without spec.partitionCount no Job is ever made, and the relays\' count is reported', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders');
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 3, partitions: 4 });
    await h.waitForStatus('orders', 'the count reported', (s) => s.partitions === 4 && applied()?.reason === 'NotManaged');
    await lookAgain(2);
    expect(h.api.requests.filter((r) => r.resource === 'jobs' && r.verb !== 'list' && r.verb !== 'watch')).toEqual([]);
    expect(h.api.list('batch/v1', 'Job', ns)).toEqual([]);
  });
});
