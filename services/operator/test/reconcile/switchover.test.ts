import { reconcile } from '../../src/reconcile';
import { SWITCHOVER_SETTLE_MS } from '../../src/reconcile/switchover';
import type { OutboxRelayStatus } from '../../src/api/types';
import { NOW, leaderPod, makePod, makeRelay, observe, secondsAgo, stalledReport } from './fixtures';

const leadingSince = (pod: string, epoch: number, secondsBefore: number): OutboxRelayStatus => ({
  currentLeader: pod,
  leaderEpoch: epoch,
  leaderSince: secondsAgo(secondsBefore),
  partitionLeaders: [{ partition: 0, pod, epoch }],
});
const withAnnotation = (annotations: Record<string, string>, status = leadingSince('relay-a', 7, 60)) =>
  makeRelay({ annotations, status });
const pods = () => [leaderPod('relay-a', 7), makePod('relay-b'), makePod('relay-c')];

describe('switchover by annotation', () => {
  test('switchover-to another ready pod: the current leader steps down, with a Normal event', () => {
    const result = reconcile(observe(withAnnotation({ 'outbox-relay.dev/switchover-to': 'relay-b' }), pods()));
    expect(result.actions).toEqual([{ kind: 'StepDown', pod: 'relay-a', reason: expect.stringContaining('switchover to relay-b') }]);
    expect(result.events).toContainEqual(expect.objectContaining({ type: 'Normal', reason: 'Switchover' }));
    expect(result.status.lastFailoverTime).toBeUndefined();
  });

  test('nothing to do once the target leads', () => {
    const status = leadingSince('relay-b', 8, 60);
    const result = reconcile(observe(withAnnotation({ 'outbox-relay.dev/switchover-to': 'relay-b' }, status), [makePod('relay-a'), leaderPod('relay-b', 8)]));
    expect(result.actions).toEqual([]);
  });

  test('a leader that took over moments ago gets time to settle before the next round', () => {
    const settling = withAnnotation({ 'outbox-relay.dev/switchover-to': 'relay-b' }, leadingSince('relay-c', 8, 1));
    const result = reconcile(observe(settling, [makePod('relay-a'), makePod('relay-b'), leaderPod('relay-c', 8)]));
    expect(result.actions).toEqual([]);
    expect(result.requeueAfterMs).toBeLessThanOrEqual(SWITCHOVER_SETTLE_MS - 1000);
  });

  test.each([
    ['missing', [leaderPod('relay-a', 7)], 'not found'],
    ['not ready', [leaderPod('relay-a', 7), makePod('relay-b', { ready: false })], 'not ready'],
  ])('a target that is %s: no action, the reason shows in LeaderElected', (_label, observedPods, why) => {
    const result = reconcile(observe(withAnnotation({ 'outbox-relay.dev/switchover-to': 'relay-b' }), observedPods));
    expect(result.actions).toEqual([]);
    expect(result.status.conditions?.find((c) => c.type === 'LeaderElected')?.message).toContain(why);
  });

  test('step-down with the current epoch: the leader steps down; with an old epoch nothing happens', () => {
    const current = reconcile(observe(withAnnotation({ 'outbox-relay.dev/step-down': '7' }), pods()));
    expect(current.actions).toEqual([{ kind: 'StepDown', pod: 'relay-a', reason: expect.stringContaining('epoch 7') }]);
    const stale = reconcile(observe(withAnnotation({ 'outbox-relay.dev/step-down': '6' }), pods()));
    expect(stale.actions).toEqual([]);
  });

  test('paused relays ignore switchover requests', () => {
    const relay = makeRelay({ annotations: { 'outbox-relay.dev/step-down': '7' }, spec: { paused: true } });
    expect(reconcile(observe(relay, pods())).actions).toEqual([]);
  });

  test('a due failover takes precedence over a switchover', () => {
    const relay = withAnnotation({ 'outbox-relay.dev/switchover-to': 'relay-b' });
    const stalled = leaderPod('relay-a', 7, { report: stalledReport('relay-a', 7) });
    const result = reconcile(observe(relay, [stalled, makePod('relay-b')], { now: NOW }));
    expect(result.actions.map((a) => a.kind)).toEqual(['EvictPod']);
    expect(result.events.map((e) => e.reason)).toContain('LeaderFailover');
    expect(result.events.map((e) => e.reason)).not.toContain('Switchover');
  });
});
