import { reconcile } from '../../src/reconcile';
import { MIN_FAILOVER_INTERVAL_MS, decideFailover } from '../../src/reconcile/failover';
import { discoverLeaders } from '../../src/reconcile/leader';
import type { OutboxRelayResource, OutboxRelayStatus } from '../../src/api/types';
import type { ObservedPod } from '../../src/reconcile/types';
import { NOW, leaderPod, makePod, makeRelay, observe, secondsAgo, secondsLater } from './fixtures';

const relayWith = (status?: OutboxRelayStatus, spec = {}): OutboxRelayResource =>
  makeRelay({ spec: { failoverDelaySeconds: 15, ...spec }, ...(status ? { status } : {}) });
const condition = (status: OutboxRelayStatus, type: string) => status.conditions?.find((c) => c.type === type);

/** A leader pod that is not ready since `seconds` ago; its endpoint answers unless `answers` is false. */
const unreadyLeader = (seconds: number, answers = true): ObservedPod =>
  leaderPod('relay-a', 7, { ready: false, notReadySince: secondsAgo(seconds), ...(answers ? {} : { report: null }) });

describe('failover', () => {
  test('leader not ready for less than the delay: wait, re-check when it runs out, say so in conditions', () => {
    const result = reconcile(observe(relayWith(), [unreadyLeader(10), makePod('relay-b')]));
    expect(result.actions).toEqual([]);
    expect(result.requeueAfterMs).toBe(5000);
    expect(result.status.lastFailoverTime).toBeUndefined();
    expect(condition(result.status, 'Degraded')).toMatchObject({ status: 'True', reason: 'LeaderNotReady' });
    expect(condition(result.status, 'Ready')).toMatchObject({ status: 'False', reason: 'LeaderUnhealthy' });
    expect(result.events.map((e) => e.reason)).not.toContain('LeaderFailover');
  });

  test('leader not ready past the delay and still answering: StepDown, lastFailoverTime, Warning event, conditions', () => {
    const result = reconcile(observe(relayWith(), [unreadyLeader(16), makePod('relay-b')]));
    expect(result.actions).toEqual([{ kind: 'StepDown', pod: 'relay-a', reason: expect.stringContaining('not ready for 16s') }]);
    expect(result.status.lastFailoverTime).toBe(NOW.toISOString());
    expect(result.events).toContainEqual({ type: 'Warning', reason: 'LeaderFailover', message: expect.stringMatching(/^StepDown relay-a: /) });
    expect(condition(result.status, 'LeaderElected')).toMatchObject({ status: 'False', reason: 'LeaderFailover' });
    expect(condition(result.status, 'Degraded')).toMatchObject({ status: 'True', reason: 'LeaderFailover' });
  });

  test('leader not ready past the delay and not answering: DeletePod', () => {
    const result = reconcile(observe(relayWith({ currentLeader: 'relay-a', leaderEpoch: 7, partitionLeaders: [{ partition: 0, pod: 'relay-a', epoch: 7 }] }), [unreadyLeader(16, false), makePod('relay-b')]));
    expect(result.actions).toEqual([{ kind: 'DeletePod', pod: 'relay-a', reason: expect.stringContaining('does not answer') }]);
  });

  test('the delay boundary: one millisecond short waits, exactly the delay acts', () => {
    const pods = [unreadyLeader(15), makePod('relay-b')];
    expect(reconcile(observe(relayWith(), pods, { now: new Date(NOW.getTime() - 1) })).actions).toEqual([]);
    expect(reconcile(observe(relayWith(), pods)).actions).toHaveLength(1);
  });

  test('failoverDelaySeconds 0 acts on the first unready observation', () => {
    const result = reconcile(observe(relayWith(undefined, { failoverDelaySeconds: 0 }), [unreadyLeader(0), makePod('relay-b')]));
    expect(result.actions.map((a) => a.kind)).toEqual(['StepDown']);
  });

  test('a ready leader whose /status probe fails: the clock starts at the first failure and is remembered in status', () => {
    const first = reconcile(observe(relayWith({ currentLeader: 'relay-a', leaderEpoch: 7, partitionLeaders: [{ partition: 0, pod: 'relay-a', epoch: 7 }] }), [leaderPod('relay-a', 7, { report: null }), makePod('relay-b')]));
    expect(first.actions).toEqual([]);
    expect(first.status.unresponsivePods).toEqual([{ pod: 'relay-a', since: NOW.toISOString() }]);
    // The periodic re-check (half the delay) comes first here; it never waits past the failover's due time.
    expect(first.requeueAfterMs).toBe(7500);
    expect(condition(first.status, 'Degraded')).toMatchObject({ status: 'True', reason: 'LeaderUnresponsive' });
    expect(condition(first.status, 'LeaderElected')).toMatchObject({ status: 'Unknown', reason: 'LeaderUnresponsive' });

    const pods = [leaderPod('relay-a', 7, { report: null }), makePod('relay-b')];
    const early = reconcile(observe(relayWith(first.status), pods, { now: secondsLater(14) }));
    expect(early.actions).toEqual([]);
    expect(early.status.unresponsivePods).toEqual([{ pod: 'relay-a', since: NOW.toISOString() }]);

    const late = reconcile(observe(relayWith(early.status), pods, { now: secondsLater(15) }));
    expect(late.actions).toEqual([{ kind: 'DeletePod', pod: 'relay-a', reason: expect.stringContaining('not answering /status for 15s') }]);
  });

  test('a probe that answers again clears the clock', () => {
    const failing = reconcile(observe(relayWith(), [leaderPod('relay-a', 7), makePod('relay-b', { report: null })]));
    expect(failing.status.unresponsivePods).toEqual([{ pod: 'relay-b', since: NOW.toISOString() }]);
    const healed = reconcile(observe(relayWith(failing.status), [leaderPod('relay-a', 7), makePod('relay-b')], { now: secondsLater(5) }));
    expect(healed.status.unresponsivePods).toBeUndefined();
  });

  test('the quiet period after a failover holds even with a zero delay, and is re-checked when it ends', () => {
    const relay = relayWith({ lastFailoverTime: secondsAgo(2) }, { failoverDelaySeconds: 0 });
    const pods = [unreadyLeader(1), makePod('relay-b')];
    expect(reconcile(observe(relay, pods)).actions).toEqual([]);
    const decision = decideFailover({
      spec: relay.spec,
      pods,
      leaders: discoverLeaders(pods, relay.status, NOW),
      unresponsive: [],
      previous: relay.status,
      now: NOW,
    });
    expect(decision.actions).toEqual([]);
    expect(decision.requeueAfterMs).toBe(MIN_FAILOVER_INTERVAL_MS - 2000);
    expect(reconcile(observe(relay, pods, { now: secondsLater(3) })).actions.map((a) => a.kind)).toEqual(['StepDown']);
  });

  test('after a StepDown the same leader gets a quiet period, then is deleted if it still leads', () => {
    const pods = [unreadyLeader(16), makePod('relay-b')];
    const stepped = reconcile(observe(relayWith(), pods));
    expect(stepped.actions.map((a) => a.kind)).toEqual(['StepDown']);

    const quiet = reconcile(observe(relayWith(stepped.status), pods, { now: secondsLater(3) }));
    expect(quiet.actions).toEqual([]);
    expect(quiet.requeueAfterMs).toBeLessThanOrEqual(Math.max(15_000, MIN_FAILOVER_INTERVAL_MS) - 3000);
    expect(quiet.status.lastFailoverTime).toBe(NOW.toISOString());

    const escalated = reconcile(observe(relayWith(quiet.status), pods, { now: secondsLater(15) }));
    expect(escalated.actions).toEqual([{ kind: 'DeletePod', pod: 'relay-a', reason: expect.stringContaining('still leading after a step-down') }]);
    expect(escalated.status.lastFailoverTime).toBe(secondsLater(15).toISOString());
  });

  test('a leader pod already being deleted is left to finish', () => {
    const result = reconcile(observe(relayWith(), [unreadyLeader(60), makePod('relay-b')].map((p) => (p.name === 'relay-a' ? { ...p, deleting: true } : p))));
    expect(result.actions).toEqual([]);
  });

  test('an unready pod that does not lead is no reason to fail over', () => {
    const result = reconcile(observe(relayWith(), [leaderPod('relay-a', 7), makePod('relay-b', { ready: false, notReadySince: secondsAgo(600) })]));
    expect(result.actions).toEqual([]);
    expect(condition(result.status, 'Ready')).toMatchObject({ status: 'True', reason: 'ReducedRedundancy' });
  });

  test('with several partitions only the unhealthy leader is acted on', () => {
    const relay = makeRelay({ spec: { partitions: 2, failoverDelaySeconds: 15 } });
    const pods = [
      leaderPod('relay-a', 7, { report: { instanceId: 'relay-a', leading: true, partitions: [{ partition: 0, leading: true, epoch: 7 }, { partition: 1, leading: false, epoch: null }] } }),
      makePod('relay-b', {
        ready: false,
        notReadySince: secondsAgo(20),
        report: { instanceId: 'relay-b', leading: true, partitions: [{ partition: 0, leading: false, epoch: null }, { partition: 1, leading: true, epoch: 3 }] },
      }),
    ];
    const result = reconcile(observe(relay, pods));
    expect(result.actions).toEqual([{ kind: 'StepDown', pod: 'relay-b', reason: expect.stringContaining('partitions 1') }]);
  });

  test('paused: nothing is done even when a failover is due, but the conditions still tell', () => {
    const relay = makeRelay({ spec: { paused: true, failoverDelaySeconds: 15 } });
    const result = reconcile(observe(relay, [unreadyLeader(60), makePod('relay-b')]));
    expect(result.actions).toEqual([]);
    expect(result.status.lastFailoverTime).toBeUndefined();
    expect(condition(result.status, 'Degraded')).toMatchObject({ status: 'True', reason: 'LeaderNotReady' });
  });

  test('a healthy leader: no action, and a periodic re-check at half the failover delay (bounded)', () => {
    const healthy = [leaderPod('relay-a', 7), makePod('relay-b')];
    expect(reconcile(observe(relayWith(), healthy)).requeueAfterMs).toBe(7500);
    expect(reconcile(observe(relayWith(undefined, { failoverDelaySeconds: 0 }), healthy)).requeueAfterMs).toBe(1000);
    expect(reconcile(observe(relayWith(undefined, { failoverDelaySeconds: 600 }), healthy)).requeueAfterMs).toBe(30_000);
    expect(reconcile(observe(relayWith(), healthy)).actions).toEqual([]);
  });
});
