/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import { FIELD_MANAGER } from '../../src/api/group';
import { SPEC_DEFAULTS } from '../../src/api/limits';
import { k8s } from '../../src/kube/client-node';
import type { JsonObject } from '../support/fake-kube-api';
import { ControllerHarness, HARNESS_RELAY_IMAGE } from '../support/harness';
import { kubeConfigFor, type ClientNodeGlobal } from '../support/kube';
import { waitFor } from '@outbox-relay/test-support';

const ns = 'relays';
const replicasOf = (d: JsonObject | undefined) => (d?.spec as { replicas?: number } | undefined)?.replicas;

describe('OutboxRelayController end to end (fake API server, real client-node)', () => {
  let h: ControllerHarness;
  afterEach(() => h.stop());

  test('an OutboxRelay gets its ServiceAccount, Service, PodDisruptionBudget and Deployment, owned by it, and a status', async () => {
    h = await ControllerHarness.start(ns);
    const relay = h.createRelay('orders');
    const uid = (relay.metadata as JsonObject).uid;

    const deployment = await waitFor('the Deployment', () => h.child('Deployment', 'orders'));
    for (const kind of ['ServiceAccount', 'Service', 'PodDisruptionBudget', 'Deployment'] as const) {
      const child = await waitFor(kind, () => h.child(kind, 'orders'));
      expect(child.metadata).toMatchObject({
        labels: {
          'app.kubernetes.io/name': 'outbox-relay',
          'app.kubernetes.io/instance': 'orders',
          'app.kubernetes.io/managed-by': 'outbox-relay-operator',
          'app.kubernetes.io/component': 'relay',
        },
        ownerReferences: [{ apiVersion: 'outbox-relay.dev/v1alpha1', kind: 'OutboxRelay', name: 'orders', uid, controller: true }],
      });
    }
    expect(deployment.spec).toMatchObject({
      replicas: SPEC_DEFAULTS.replicas,
      template: { spec: { containers: [{ image: HARNESS_RELAY_IMAGE, command: ['node', 'services/relay/dist/main.js'] }] } },
    });
    const status = await h.waitForStatus('orders', 'status written', (s) => s.observedGeneration === 1 && s);
    const applies = h.api.requests.filter((r) => r.method === 'PATCH');
    expect(applies.map((r) => r.resource)).toEqual(expect.arrayContaining(['serviceaccounts', 'services', 'poddisruptionbudgets', 'deployments']));
    for (const r of applies) expect(r).toMatchObject({ contentType: 'application/apply-patch+yaml', query: { fieldManager: FIELD_MANAGER, force: 'true' } });
    // The status is replaced from the version read (a resourceVersion precondition), not applied over whatever is there.
    const statusWrites = h.api.requests.filter((r) => r.subresource === 'status');
    expect(statusWrites.length).toBeGreaterThan(0);
    for (const r of statusWrites) expect(r).toMatchObject({ method: 'PUT', verb: 'update' });
    expect(status.selector).toBe('app.kubernetes.io/name=outbox-relay,app.kubernetes.io/instance=orders');
    expect(status.conditions?.map((c) => c.type).sort()).toEqual(['Degraded', 'LeaderElected', 'PartitionCountApplied', 'Paused', 'PodsUnreachable', 'Progressing', 'Ready']);
  });

  test('pods and their reports show in the status: replicas, ready replicas, the leader and its epoch', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders');
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 3 });
    await h.addPod('orders', 'orders-b', { leading: false, ready: false });
    const status = await h.waitForStatus('orders', 'leader found', (s) => s.currentLeader === 'orders-a' && s);
    expect(status).toMatchObject({ replicas: 2, readyReplicas: 1, leaderEpoch: 3, partitionLeaders: [{ partition: 0, pod: 'orders-a', epoch: 3 }] });
    expect(h.condition('orders', 'LeaderElected')).toMatchObject({ status: 'True', reason: 'LeaderFound' });
    await waitFor('a LeaderElected event', () => h.events('LeaderElected').length === 1);

    h.setPodReady('orders-b', true);
    await h.waitForStatus('orders', 'both ready', (s) => s.readyReplicas === 2);
  });

  test('scaling through spec.replicas and through the scale subresource reaches the Deployment', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders');
    await waitFor('the Deployment', () => h.child('Deployment', 'orders'));

    h.editSpec('orders', (spec) => (spec.replicas = 3));
    await waitFor('3 replicas', () => replicasOf(h.child('Deployment', 'orders')) === 3);

    // What `kubectl scale obr/orders --replicas=4` and an HPA do: write the scale subresource. Its selector comes
    // from the status, written once a reconcile's status write is not refused by the spec edit above.
    await h.waitForStatus('orders', 'the selector in the status', (s) => s.selector);
    const custom = kubeConfigFor(h.api.url, ns).makeApiClient(k8s.CustomObjectsApi);
    const target = { group: 'outbox-relay.dev', version: 'v1alpha1', namespace: ns, plural: 'outboxrelays', name: 'orders' };
    const scale = await custom.getNamespacedCustomObjectScale(target);
    expect(scale.status?.selector).toBe('app.kubernetes.io/name=outbox-relay,app.kubernetes.io/instance=orders');
    await custom.replaceNamespacedCustomObjectScale({ ...target, body: { ...scale, spec: { replicas: 4 } } });
    await waitFor('4 replicas', () => replicasOf(h.child('Deployment', 'orders')) === 4);
    await h.waitForStatus('orders', 'generation observed', (s) => s.observedGeneration === 3);
  });

  test('a paused relay is left alone but its status says so; resuming applies what changed meanwhile', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders');
    await waitFor('the Deployment', () => h.child('Deployment', 'orders'));

    h.editSpec('orders', (spec) => {
      spec.paused = true;
      spec.replicas = 5;
    });
    await h.waitForStatus('orders', 'Paused condition', (s) => s.conditions?.some((c) => c.type === 'Paused' && c.status === 'True'));
    await waitFor('a Paused event', () => h.events('Paused').length === 1);
    expect(replicasOf(h.child('Deployment', 'orders'))).toBe(SPEC_DEFAULTS.replicas);

    h.editSpec('orders', (spec) => (spec.paused = false));
    await waitFor('5 replicas after resuming', () => replicasOf(h.child('Deployment', 'orders')) === 5);
    await h.waitForStatus('orders', 'Paused condition false', (s) => s.conditions?.some((c) => c.type === 'Paused' && c.status === 'False'));
    await waitFor('a Resumed event', () => h.events('Resumed').length === 1);
  });

  // Before issue 16 an unready leader was stepped down, and one that also did not answer was deleted. Neither is
  // evidence that publishing stopped (an unready relay may still publish; one that is gone loses its lease to a
  // standby by itself), so both are now only reported; failover-safety.test.ts covers what is acted on.
  test('a leader pod unready past the failover delay that still reports progress is reported, not acted on', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders', { failoverDelaySeconds: 1 });
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 3 });
    await h.addPod('orders', 'orders-b', { leading: false });
    await h.waitForStatus('orders', 'orders-a leads', (s) => s.currentLeader === 'orders-a');

    const unreadySince = h.setPodReady('orders-a', false);
    const degraded = await h.waitForStatus('orders', 'the leader reported not ready', () => {
      const c = h.condition('orders', 'Degraded');
      return c?.status === 'True' && c.reason === 'LeaderNotReady' ? c : undefined;
    });
    expect(degraded.message).toContain('orders-a');
    await waitFor('the failover delay to run out', () => Date.now() >= unreadySince + 1000);
    await h.reconciled(2);
    expect(h.relays.stepDowns('orders-a')).toBe(0);
    expect(h.evictions()).toEqual([]);
    expect(h.podDeletions()).toEqual([]);
    expect(h.status('orders').lastFailoverTime).toBeUndefined();
    expect(h.condition('orders', 'Ready')).toMatchObject({ status: 'True' });
  });

  test('a leader that is unready and does not answer is left to its lease: the standby that takes it over is reported', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders', { failoverDelaySeconds: 1 });
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 8 });
    await h.addPod('orders', 'orders-b', { leading: false });
    await h.waitForStatus('orders', 'orders-a leads', (s) => s.currentLeader === 'orders-a');

    h.relays.setBehaviour('orders-a', 'fail');
    const unreadySince = h.setPodReady('orders-a', false);
    await waitFor('the failover delay to run out', () => Date.now() >= unreadySince + 1000);
    await h.reconciled(2);
    expect(h.evictions()).toEqual([]);
    expect(h.podDeletions()).toEqual([]);
    // Not Ready per the kubelet either: no PodsUnreachable (that is for pods the kubelet reaches and we do not).
    expect(h.condition('orders', 'PodsUnreachable')).toMatchObject({ status: 'False' });
    expect(h.condition('orders', 'Degraded')).toMatchObject({ status: 'True', reason: 'LeaderNotReady' });

    // Its lease expires; the standby takes it (the relays do that, not the operator).
    h.relays.setLeading('orders-b', true, 9);
    const status = await h.waitForStatus('orders', 'orders-b leads', (s) => s.currentLeader === 'orders-b' && s);
    expect(status.leaderEpoch).toBe(9);
    expect(h.api.get('v1', 'Pod', ns, 'orders-a')).toBeDefined();
  });

  test('after dropped watches, failing requests and 410 Gone the controller recovers and still reconciles', async () => {
    h = await ControllerHarness.start(ns);
    // A long failover delay keeps reconcile's own re-check (at most 30 s) out of the way: only a watch event can
    // bring the change below in time.
    h.createRelay('orders', { failoverDelaySeconds: 600 });
    await waitFor('the Deployment', () => h.child('Deployment', 'orders'));
    // Relays, Deployments, pods, Secrets, NetworkPolicies, partition-count Jobs.
    await waitFor('six watches', () => h.api.activeWatches() === 6);

    // Each informer's next two list or watch requests fail, whichever way it notices the drop.
    for (const resource of ['outboxrelays', 'deployments', 'pods', 'secrets']) {
      h.api.failNext(2, { status: 500, match: (r) => r.resource === resource && (r.verb === 'watch' || r.verb === 'list') });
    }
    h.api.compact();
    h.api.dropWatches('reset');
    h.editSpec('orders', (spec) => (spec.replicas = 3));

    await waitFor('3 replicas', () => replicasOf(h.child('Deployment', 'orders')) === 3);
    await waitFor('six watches again', () => h.api.activeWatches() === 6);
    const restarts = await Promise.all(
      ['outboxrelays', 'deployments', 'pods', 'secrets'].map((informer) => h.metrics.value(h.metrics.informerRestarts, { informer, reason: 'error' })),
    );
    expect(restarts.every((n) => n >= 1)).toBe(true);
  });

  test('a deleted relay takes its children with it (owner references); the controller then applies nothing more', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders');
    await waitFor('the Deployment', () => h.child('Deployment', 'orders'));
    h.api.delete('outbox-relay.dev/v1alpha1', 'OutboxRelay', ns, 'orders');
    expect(h.child('Deployment', 'orders')).toBeUndefined();
    expect(h.child('Service', 'orders')).toBeUndefined();
    expect(h.child('ServiceAccount', 'orders')).toBeUndefined();
    expect(h.child('PodDisruptionBudget', 'orders')).toBeUndefined();

    const gone = await waitFor('a sync that finds the relay gone', () => {
      const i = h.api.requests.findIndex((r) => r.resource === 'outboxrelays' && r.verb === 'get' && r.status === 404);
      return i >= 0 ? i : undefined;
    });
    await waitFor('the queue to settle', async () => (await h.metrics.value(h.metrics.queueDepth)) === 0);
    expect(h.api.requests.slice(gone).filter((r) => r.method !== 'GET')).toEqual([]);
  });

  test('an invalid spec is reported as Degraded and nothing is applied', async () => {
    h = await ControllerHarness.start(ns);
    // The CRD's CEL rule refuses this spec; the operator checks again for a cluster whose CRD is older than it.
    expect(() => h.createRelay('orders', { leaseDurationMs: 1000, renewIntervalMs: 800 })).toThrow(/spec.renewIntervalMs/);
    h.createRelay('orders', { leaseDurationMs: 1000, renewIntervalMs: 800 }, { admission: false });
    const degraded = await h.waitForStatus('orders', 'Degraded', (s) => s.conditions?.find((c) => c.type === 'Degraded' && c.status === 'True'));
    expect(degraded.reason).toBe('InvalidSpec');
    expect(degraded.message).toContain('renewIntervalMs');
    expect(h.child('Deployment', 'orders')).toBeUndefined();
    await waitFor('an InvalidSpec event', () => h.events('InvalidSpec').length === 1);
  });
});
