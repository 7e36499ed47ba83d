import { mergeConditions } from '../../src/reconcile/conditions';
import { reconcile } from '../../src/reconcile';
import type { Condition } from '../../src/api/types';
import { NOW, leaderPod, makePod, makeRelay, observe, secondsAgo, secondsLater } from './fixtures';

const earlier = secondsAgo(3600);
const previous: Condition[] = [
  { type: 'Ready', status: 'True', reason: 'Ready', message: '2 of 2 pods ready', lastTransitionTime: earlier, observedGeneration: 1 },
  { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'no fault observed', lastTransitionTime: earlier, observedGeneration: 1 },
];

describe('mergeConditions', () => {
  test('same status keeps lastTransitionTime even when reason and message change; generation is updated', () => {
    const [ready] = mergeConditions(previous, [{ type: 'Ready', status: 'True', reason: 'ReducedRedundancy', message: '1 of 2' }], NOW, 2);
    expect(ready).toEqual({ type: 'Ready', status: 'True', reason: 'ReducedRedundancy', message: '1 of 2', lastTransitionTime: earlier, observedGeneration: 2 });
  });

  test('a status change moves lastTransitionTime to now', () => {
    const [ready] = mergeConditions(previous, [{ type: 'Ready', status: 'False', reason: 'NoLeader', message: 'x' }], NOW, 1);
    expect(ready?.lastTransitionTime).toBe(NOW.toISOString());
  });

  test('a new condition starts now; conditions come out in a fixed order', () => {
    const merged = mergeConditions(
      previous,
      [
        { type: 'Paused', status: 'False', reason: 'Reconciling', message: '' },
        { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'no fault observed' },
        { type: 'Ready', status: 'True', reason: 'Ready', message: '2 of 2 pods ready' },
      ],
      NOW,
      1,
    );
    expect(merged.map((c) => c.type)).toEqual(['Ready', 'Degraded', 'Paused']);
    expect(merged.map((c) => c.lastTransitionTime)).toEqual([earlier, earlier, NOW.toISOString()]);
  });
});

describe('conditions through reconcile', () => {
  const pods = [leaderPod('relay-a', 3), makePod('relay-b')];

  test('a healthy relay: Ready, LeaderElected, not Progressing, not Degraded, not Paused', () => {
    const status = reconcile(observe(makeRelay(), pods)).status;
    const summary = Object.fromEntries((status.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));
    expect(summary).toEqual({
      Ready: 'True/Ready',
      LeaderElected: 'True/LeaderFound',
      PartitionCountApplied: 'True/NotManaged',
      Progressing: 'False/Complete',
      Degraded: 'False/AsExpected',
      Paused: 'False/Reconciling',
      PodsUnreachable: 'False/PodsAnswer',
    });
    expect(status.conditions?.every((c) => c.observedGeneration === 1)).toBe(true);
  });

  test('re-running later on the same facts keeps every lastTransitionTime; a change moves only the changed ones', () => {
    const first = reconcile(observe(makeRelay(), pods)).status;
    const again = reconcile(observe(makeRelay({ status: first }), pods, { now: secondsLater(60) })).status;
    expect(again.conditions?.map((c) => c.lastTransitionTime)).toEqual(first.conditions?.map((c) => c.lastTransitionTime));

    const noLeader = [makePod('relay-a'), makePod('relay-b')];
    const changed = reconcile(observe(makeRelay({ status: again }), noLeader, { now: secondsLater(120) })).status;
    const moved = (changed.conditions ?? []).filter((c) => c.lastTransitionTime === secondsLater(120).toISOString()).map((c) => c.type);
    expect(moved.sort()).toEqual(['LeaderElected', 'Ready']);
    expect(changed.conditions?.find((c) => c.type === 'LeaderElected')).toMatchObject({ status: 'False', reason: 'NoLeader' });
  });

  test('no pod probed yet: LeaderElected Unknown, Ready False with the same reason', () => {
    const status = reconcile(observe(makeRelay(), [makePod('relay-a', { report: undefined })])).status;
    expect(status.conditions?.find((c) => c.type === 'LeaderElected')).toMatchObject({ status: 'Unknown', reason: 'NotProbed' });
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'NotProbed' });
  });

  test('a partition nobody leads: LeaderElected False naming it', () => {
    const relay = makeRelay({ spec: { partitionCount: 3 } });
    const status = reconcile(observe(relay, [makePod('relay-a', { report: { instanceId: 'relay-a', leading: true, partitions: [{ partition: 0, leading: true, epoch: 1 }, { partition: 1, leading: true, epoch: 1 }, { partition: 2, leading: false, epoch: null }] } })])).status;
    expect(status.conditions?.find((c) => c.type === 'LeaderElected')).toMatchObject({ status: 'False', reason: 'PartitionsWithoutLeader', message: expect.stringContaining('partitions 2 have no leader') });
  });

  test('scaled to zero: not Ready, reason ScaledToZero (what `kubectl get obr` shows as Status)', () => {
    const relay = makeRelay({ spec: { replicas: 0 } });
    const status = reconcile(observe(relay, [])).status;
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ScaledToZero' });
    expect(status.conditions?.find((c) => c.type === 'LeaderElected')).toMatchObject({ status: 'False', reason: 'ScaledToZero' });
  });

  test('the Deployment controller gave up: Degraded with its reason', () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { generation: 2 },
      spec: { replicas: 2, selector: {}, template: {} },
      status: {
        observedGeneration: 2,
        updatedReplicas: 1,
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "x" has timed out progressing.' }],
      },
    };
    const status = reconcile(observe(makeRelay(), pods, { deployment })).status;
    expect(status.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'ProgressDeadlineExceeded' });
    expect(status.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'True', reason: 'RollingOut' });
  });
});
