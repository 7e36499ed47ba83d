/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import { ControllerHarness } from '../support/harness';
import { type ClientNodeGlobal } from '../support/kube';
import { POD_DELETION_COST, scaleDownVictims } from '../support/replica-set';
import { waitFor } from '@outbox-relay/test-support';

const ns = 'safety';
const DELAY_S = 1;

/**
 * Failover that cannot make an outage worse, on the fake API server with the real client-node. The Postgres lease
 * decides who publishes; the operator only replaces a leader that shows it makes no progress, never acts on what
 * it cannot see, acts once per quiet period, honours the PodDisruptionBudget, and never acts twice when two
 * operators overlap.
 */
describe('failover that cannot hurt', () => {
  let h: ControllerHarness;
  afterEach(() => h.stop());

  const start = async (spec: Record<string, unknown> = {}) => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders', { failoverDelaySeconds: DELAY_S, ...spec });
    await waitFor('the PodDisruptionBudget', () => h.child('PodDisruptionBudget', 'orders'));
  };
  const condition = (type: string) => h.condition('orders', type);
  /** Waits until the controller has looked at least twice after the failover delay ran out since `sinceMs`. */
  const pastTheDelay = async (sinceMs: number) => {
    await waitFor('the failover delay to run out', () => Date.now() >= sinceMs + DELAY_S * 1000);
    await h.reconciled(2);
  };

  test('cut off from every pod (a NetworkPolicy, a CNI fault): nothing is evicted or deleted, PodsUnreachable names the pods', async () => {
    await start();
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 3 });
    await h.addPod('orders', 'orders-b', { leading: false });
    await h.waitForStatus('orders', 'orders-a leads', (s) => s.currentLeader === 'orders-a');

    h.relays.setBehaviour('orders-a', 'hang');
    h.relays.setBehaviour('orders-b', 'hang');
    await pastTheDelay(Date.now());
    expect(h.evictions()).toEqual([]);
    expect(h.podDeletions()).toEqual([]);
    expect(h.pods()).toHaveLength(2);
    expect(h.status('orders').lastFailoverTime).toBeUndefined();

    const unreachable = condition('PodsUnreachable');
    expect(unreachable).toMatchObject({ status: 'True', reason: 'AllPodsUnreachable' });
    expect(unreachable?.message).toMatch(/orders-a.*orders-b/);
    await waitFor('a PodsUnreachable event', () => h.events('PodsUnreachable').length === 1);
  });

  test('the leader alone unreachable while the kubelet says Ready: reported, not acted on; reachable again, the condition clears', async () => {
    await start();
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 3 });
    await h.addPod('orders', 'orders-b', { leading: false });
    await h.waitForStatus('orders', 'orders-a leads', (s) => s.currentLeader === 'orders-a');

    h.relays.setBehaviour('orders-a', 'fail');
    await pastTheDelay(Date.now());
    expect(h.evictions()).toEqual([]);
    expect(h.podDeletions()).toEqual([]);
    const unreachable = condition('PodsUnreachable');
    expect(unreachable).toMatchObject({ status: 'True', reason: 'SomePodsUnreachable' });
    expect(unreachable?.message).toContain('orders-a');
    expect(unreachable?.message).not.toContain('orders-b');
    expect(condition('LeaderElected')).toMatchObject({ status: 'Unknown', reason: 'LeaderUnresponsive' });

    h.relays.setBehaviour('orders-a', 'answer');
    await h.waitForStatus('orders', 'PodsUnreachable cleared', () => condition('PodsUnreachable')?.status === 'False');
    expect(h.status('orders').unresponsivePods).toBeUndefined();
  });

  test('a stalled leader with a backlog (renewing its lease, publishing nothing) is evicted once, through the Eviction API', async () => {
    await start();
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 3 });
    await h.addPod('orders', 'orders-b', { leading: false });
    h.api.updateDisruptionBudgets(ns);
    await h.waitForStatus('orders', 'orders-a leads', (s) => s.currentLeader === 'orders-a');

    h.relays.stall('orders-a', { pending: 250 });
    await waitFor('the eviction', () => h.evictions().length > 0);
    expect(h.evictions()).toEqual([{ pod: 'orders-a', status: 201 }]);
    expect(h.podDeletions()).toEqual([]);
    // Evicted is deleted gracefully: the pod is Terminating while its relay shuts down.
    expect(h.api.get('v1', 'Pod', ns, 'orders-a')?.metadata).toMatchObject({ deletionTimestamp: expect.any(String) });
    const [event] = await waitFor('the LeaderFailover event', () => h.events('LeaderFailover').length > 0 && h.events('LeaderFailover'));
    expect(String(event?.message)).toMatch(/^EvictPod orders-a: .*250 events pending/);
    expect(h.status('orders').lastFailoverTime).toBeDefined();
    expect(await h.metrics.value(h.metrics.actions, { kind: 'EvictPod', outcome: 'done' })).toBe(1);

    // The Terminating pod still reports its stalled lead; the operator does not evict it again.
    await h.reconciled(2);
    expect(h.evictions()).toHaveLength(1);
    // The standby takes the lease (the relays do that, not the operator); nothing more is done.
    h.relays.setLeading('orders-b', true, 4);
    await h.waitForStatus('orders', 'orders-b leads', (s) => s.currentLeader === 'orders-b');
    h.api.finishTermination(ns, 'orders-a');
    await h.reconciled(2);
    expect(h.evictions()).toHaveLength(1);
  });

  test('two stalled leaders: one eviction per reconcile and per quiet period', async () => {
    await start({ partitionCount: 2, replicas: 3 });
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 3, partitions: 2 });
    await h.addPod('orders', 'orders-b', { leading: true, epoch: 5, partitions: 2 });
    await h.addPod('orders', 'orders-c', { leading: false, partitions: 2 });
    h.relays.leadPartitions('orders-a', [0], 3);
    h.relays.leadPartitions('orders-b', [1], 5);
    h.api.updateDisruptionBudgets(ns);
    await h.waitForStatus('orders', 'two leaders', (s) => s.partitionLeaders?.length === 2);

    h.relays.stall('orders-a');
    h.relays.stall('orders-b');
    await waitFor('the first eviction', () => h.evictions().length > 0);
    const first = h.status('orders').lastFailoverTime!;
    expect(h.evictions()).toEqual([{ pod: 'orders-a', status: 201 }]);
    // The other stalled leader is reported and waits for the quiet period.
    const waiting = await h.waitForStatus('orders', 'orders-b reported waiting', () => {
      const c = condition('Degraded');
      return c?.reason === 'LeaderStalled' && c.message.includes('orders-b') ? c : undefined;
    });
    expect(waiting.message).toContain('quiet period');
    expect(h.evictions()).toHaveLength(1);

    h.api.updateDisruptionBudgets(ns);
    await waitFor('the second eviction, after the quiet period', () => h.evictions().length === 2, 15_000);
    expect(h.evictions()[1]).toEqual({ pod: 'orders-b', status: 201 });
    const second = h.status('orders').lastFailoverTime!;
    expect(Date.parse(second) - Date.parse(first)).toBeGreaterThanOrEqual(5000);
  });

  test('a PodDisruptionBudget that blocks the eviction: 429 reported, the pod kept, the eviction retried after the quiet period', async () => {
    await start();
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 3 });
    await h.addPod('orders', 'orders-b', { leading: false, ready: false });
    // One healthy pod of two, maxUnavailable 1: no disruption allowed.
    h.api.updateDisruptionBudgets(ns);
    await h.waitForStatus('orders', 'orders-a leads', (s) => s.currentLeader === 'orders-a');

    h.relays.stall('orders-a');
    await waitFor('a refused eviction', () => h.evictions().length > 0);
    expect(h.evictions()).toEqual([{ pod: 'orders-a', status: 429 }]);
    const [blocked] = await waitFor('the EvictionBlocked event', () => h.events('EvictionBlocked').length > 0 && h.events('EvictionBlocked'));
    expect(blocked).toMatchObject({ type: 'Warning' });
    expect(String(blocked?.message)).toContain('disruption budget');
    await waitFor('counted as blocked', async () => (await h.metrics.value(h.metrics.actions, { kind: 'EvictPod', outcome: 'blocked' })) === 1);
    expect(h.api.get('v1', 'Pod', ns, 'orders-a')).toBeDefined();
    expect(h.podDeletions()).toEqual([]);

    // The standby becomes healthy; the disruption controller allows one disruption; the operator tries again.
    h.setPodReady('orders-b', true);
    h.api.updateDisruptionBudgets(ns);
    await waitFor('the eviction retried and done', () => h.evictions().some((e) => e.status === 201), 15_000);
    expect(h.evictions().map((e) => e.status)).toEqual([429, 201]);
    expect(h.api.get('v1', 'Pod', ns, 'orders-a')?.metadata).toMatchObject({ deletionTimestamp: expect.any(String) });
  });

  test('two operators that overlap both see the stalled leader: only one evicts it (the failover is recorded with a resourceVersion precondition first)', async () => {
    await start();
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 3 });
    await h.addPod('orders', 'orders-b', { leading: false });
    h.api.updateDisruptionBudgets(ns);
    const peer = await h.startPeer('operator-peer');
    await h.waitForStatus('orders', 'orders-a leads', (s) => s.currentLeader === 'orders-a');

    // Both controllers decide before either decision is stored: each status write that records a failover is
    // held until both have sent theirs, from the same resourceVersion.
    const decisions = h.api.holdRequests((r) => r.subresource === 'status' && !!r.body?.includes('"LeaderFailover"'), { limit: 2 });
    h.relays.stall('orders-a');
    await decisions.whenHeld(2);
    decisions.release();

    await waitFor('the eviction', () => h.evictions().length > 0);
    await h.reconciled(2);
    await h.reconciled(2, peer.metrics);
    expect(h.evictions()).toEqual([{ pod: 'orders-a', status: 201 }]);
    const done = (await h.metrics.value(h.metrics.actions, { kind: 'EvictPod', outcome: 'done' })) + (await peer.metrics.value(peer.metrics.actions, { kind: 'EvictPod', outcome: 'done' }));
    expect(done).toBe(1);
    // Both decided; the write that came second was refused, and its decision was not carried out.
    const recorded = h.api.requests.filter((r) => r.subresource === 'status' && r.body?.includes('"LeaderFailover"'));
    expect(recorded.slice(0, 2).map((r) => r.status)).toEqual([200, 409]);
  });

  test('scale-down and rollout remove followers before leaders: the leader pod carries the highest pod-deletion-cost, kept current', async () => {
    await start({ replicas: 3 });
    const anHourAgo = new Date(Date.now() - 3600_000);
    await h.addPod('orders', 'orders-b', { leading: false, readyAt: anHourAgo });
    await h.addPod('orders', 'orders-c', { leading: false, readyAt: anHourAgo });
    // The newest pod, ready for the shortest time: the ReplicaSet's first choice, were it not for the cost.
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 3 });
    await h.waitForStatus('orders', 'orders-a leads', (s) => s.currentLeader === 'orders-a');
    const cost = (pod: string) => (h.api.get('v1', 'Pod', ns, pod)?.metadata as { annotations?: Record<string, string> }).annotations?.[POD_DELETION_COST];
    await waitFor('the leader annotated', () => cost('orders-a') === '1');
    expect([cost('orders-b'), cost('orders-c')]).toEqual([undefined, undefined]);

    // kubectl scale obr/orders --replicas=1: the ReplicaSet deletes two pods, the followers.
    expect(scaleDownVictims(h.pods(), 2).sort()).toEqual(['orders-b', 'orders-c']);
    // A rolling update removes old pods one at a time: a follower first, the leader last.
    expect(scaleDownVictims(h.pods(), 1)).not.toEqual(['orders-a']);

    // Leadership moves (a step-down, a rebalance): the annotation follows.
    h.relays.setLeading('orders-a', false);
    h.relays.setLeading('orders-c', true, 4);
    await waitFor('the cost follows the leader', () => cost('orders-c') === '1' && cost('orders-a') === undefined);
    expect(scaleDownVictims(h.pods(), 2)).not.toContain('orders-c');
  });
});
