import { reconcile } from '../../src/reconcile';
import { POD_DELETION_COST_ANNOTATION } from '../../src/reconcile/deletion-cost';
import { MIN_FAILOVER_INTERVAL_MS } from '../../src/reconcile/failover';
import { MIN_STALL_MS } from '../../src/reconcile/stall';
import type { OutboxRelayResource, OutboxRelayStatus } from '../../src/api/types';
import type { ObservedPod, RelayPodReport } from '../../src/reconcile/types';
import { NOW, leaderPod, makePod, makeRelay, observe, report, secondsAgo, secondsLater, stalledReport } from './fixtures';

const relayWith = (status?: OutboxRelayStatus, spec = {}): OutboxRelayResource =>
  makeRelay({ spec: { failoverDelaySeconds: 15, ...spec }, ...(status ? { status } : {}) });
const condition = (status: OutboxRelayStatus, type: string) => status.conditions?.find((c) => c.type === type);
const stalled = (name = 'relay-a', options: Parameters<typeof stalledReport>[2] = {}, pod: Partial<ObservedPod> = {}): ObservedPod =>
  leaderPod(name, 7, { uid: `uid-${name}`, report: stalledReport(name, 7, options), ...pod });
/** A led partition's report with some of its progress fields changed. */
const leaderReporting = (change: Partial<RelayPodReport['partitions'][number]>, top: Partial<RelayPodReport> = {}): ObservedPod => {
  const r = stalledReport('relay-a');
  return leaderPod('relay-a', 7, { report: { ...r, ...top, partitions: r.partitions.map((p) => ({ ...p, ...change })) } });
};

describe('failover: only a leader that shows it makes no progress is acted on', () => {
  test('a healthy leader: no action, and a periodic re-check at half the failover delay (bounded)', () => {
    const healthy = [leaderPod('relay-a', 7), makePod('relay-b')];
    expect(reconcile(observe(relayWith(), healthy)).requeueAfterMs).toBe(7500);
    expect(reconcile(observe(relayWith(undefined, { failoverDelaySeconds: 0 }), healthy)).requeueAfterMs).toBe(1000);
    expect(reconcile(observe(relayWith(undefined, { failoverDelaySeconds: 600 }), healthy)).requeueAfterMs).toBe(30_000);
    expect(reconcile(observe(relayWith(), healthy)).actions).toEqual([]);
  });

  test('a leader renewing its lease but publishing nothing while events wait: evicted (with its uid), recorded, reported', () => {
    const result = reconcile(observe(relayWith(), [stalled(), makePod('relay-b')]));
    expect(result.actions).toEqual([
      { kind: 'EvictPod', pod: 'relay-a', uid: 'uid-relay-a', reason: expect.stringContaining('40 events pending, the oldest for 60s; last publish 60s ago') },
    ]);
    expect(result.status.lastFailoverTime).toBe(NOW.toISOString());
    expect(result.events).toContainEqual({ type: 'Warning', reason: 'LeaderFailover', message: expect.stringMatching(/^EvictPod relay-a: /) });
    expect(condition(result.status, 'LeaderElected')).toMatchObject({ status: 'False', reason: 'LeaderFailover' });
    expect(condition(result.status, 'Degraded')).toMatchObject({ status: 'True', reason: 'LeaderFailover' });
    expect(condition(result.status, 'Ready')).toMatchObject({ status: 'False', reason: 'LeaderStalled' });
  });

  test('a term with nothing published at all counts from its start', () => {
    const result = reconcile(observe(relayWith(), [leaderReporting({ publishedAgoMs: null, leadingForMs: 20_000 }), makePod('relay-b')]));
    expect(result.actions).toEqual([expect.objectContaining({ kind: 'EvictPod', reason: expect.stringContaining('nothing published in its 20s term') })]);
  });

  test.each<[string, Partial<RelayPodReport['partitions'][number]>, Partial<RelayPodReport>]>([
    ['nothing pending', { pending: 0, oldestPendingAgeMs: 0 }, {}],
    ['the oldest pending event younger than the window (it just arrived after an idle spell)', { oldestPendingAgeMs: 14_000 }, {}],
    ['a publish within the window (busy draining a backlog)', { publishedAgoMs: 2000 }, {}],
    ['just elected: nothing published yet, but leading for less than the window', { leadingForMs: 3000, publishedAgoMs: null }, {}],
    ['a backlog reading older than the window (the pod cannot read its database)', {}, { backlogReadAgoMs: 20_000 }],
    ['a relay of an older version (no progress fields)', { leadingForMs: undefined, publishedAgoMs: undefined, pending: undefined, oldestPendingAgeMs: undefined, renewedAgoMs: undefined }, { backlogReadAgoMs: undefined }],
  ])('no evidence, no action: %s', (_title, change, top) => {
    const result = reconcile(observe(relayWith(), [leaderReporting(change, top), makePod('relay-b')]));
    expect(result.actions).toEqual([]);
    expect(result.status.lastFailoverTime).toBeUndefined();
    expect(condition(result.status, 'Degraded')).toMatchObject({ status: 'False' });
  });

  test('a leader still calling itself leader long past its lease (renewals stopped) is evicted too', () => {
    const result = reconcile(observe(relayWith(), [leaderReporting({ renewedAgoMs: 9000, pending: 0, oldestPendingAgeMs: 0 }), makePod('relay-b')]));
    expect(result.actions).toEqual([expect.objectContaining({ kind: 'EvictPod', reason: expect.stringContaining('lease last renewed 9s ago, lease 2s') })]);
  });

  test('the window is failoverDelaySeconds, never below MIN_STALL_MS', () => {
    const quiet = (s: number) => [stalled('relay-a', { quietS: s }), makePod('relay-b')];
    const zero = relayWith(undefined, { failoverDelaySeconds: 0 });
    expect(reconcile(observe(zero, quiet(MIN_STALL_MS / 1000 - 1))).actions).toEqual([]);
    expect(reconcile(observe(zero, quiet(MIN_STALL_MS / 1000))).actions).toHaveLength(1);
    const thirty = relayWith(undefined, { failoverDelaySeconds: 30 });
    expect(reconcile(observe(thirty, quiet(29))).actions).toEqual([]);
    expect(reconcile(observe(thirty, quiet(30))).actions).toHaveLength(1);
  });

  test('at most one eviction per reconcile: of two stalled leaders the first by partition goes, the other waits for the quiet period', () => {
    const relay = relayWith(undefined, { partitionCount: 2 });
    const pods = [
      stalled('relay-a', { partitions: { 0: 7 }, total: 2 }),
      stalled('relay-b', { partitions: { 1: 3 }, total: 2 }),
      makePod('relay-c', { report: report('relay-c', {}, 2) }),
    ];
    const first = reconcile(observe(relay, pods));
    expect(first.actions.map((a) => a.kind === 'StartPartitionChange' ? a.job.metadata?.name : a.pod)).toEqual(['relay-a']);

    const later = secondsLater(3);
    const quiet = reconcile(observe(relayWith(first.status, { partitionCount: 2 }), pods.slice(1), { now: later }));
    expect(quiet.actions).toEqual([]);
    const due = Date.parse(NOW.toISOString()) + 15_000;
    // Looked at again no later than when the quiet period ends (the periodic re-check may come first).
    expect(quiet.requeueAfterMs).toBeLessThanOrEqual(due - later.getTime());
    expect(condition(quiet.status, 'Degraded')).toMatchObject({ reason: 'LeaderStalled', message: expect.stringContaining(`until ${new Date(due).toISOString()}`) });

    const after = reconcile(observe(relayWith(quiet.status, { partitionCount: 2 }), pods.slice(1), { now: secondsLater(15) }));
    expect(after.actions.map((a) => a.kind === 'StartPartitionChange' ? a.job.metadata?.name : a.pod)).toEqual(['relay-b']);
  });

  test('the quiet period holds even with a zero delay (MIN_FAILOVER_INTERVAL_MS), and is re-checked when it ends', () => {
    const relay = relayWith({ lastFailoverTime: secondsAgo(2) }, { failoverDelaySeconds: 0 });
    const pods = [stalled(), makePod('relay-b')];
    const waiting = reconcile(observe(relay, pods));
    expect(waiting.actions).toEqual([]);
    expect(waiting.requeueAfterMs).toBeLessThanOrEqual(MIN_FAILOVER_INTERVAL_MS - 2000);
    expect(reconcile(observe(relay, pods, { now: secondsLater(3) })).actions.map((a) => a.kind)).toEqual(['EvictPod']);
  });

  test('a stalled leader with no relay pod connected to NATS is an outage everybody sees: reported, not acted on', () => {
    const offline = (r: RelayPodReport): RelayPodReport => ({ ...r, natsConnected: false });
    const leader = leaderPod('relay-a', 7, { report: offline(stalledReport('relay-a')) });
    const standby = makePod('relay-b', { report: offline(report('relay-b')) });
    const outage = reconcile(observe(relayWith(), [leader, standby]));
    expect(outage.actions).toEqual([]);
    expect(condition(outage.status, 'Degraded')).toMatchObject({ status: 'True', reason: 'NatsUnreachable' });
    expect(condition(outage.status, 'Ready')).toMatchObject({ status: 'False', reason: 'NatsUnreachable' });
    // The standby reaches NATS: the leader alone is cut off, and a replacement would publish.
    const alone = reconcile(observe(relayWith(), [leader, makePod('relay-b')]));
    expect(alone.actions.map((a) => a.kind)).toEqual(['EvictPod']);
  });

  test('a leader pod already being deleted is left to finish', () => {
    expect(reconcile(observe(relayWith(), [stalled('relay-a', {}, { deleting: true }), makePod('relay-b')])).actions).toEqual([]);
  });

  test('paused: nothing is done even when a stalled leader is seen, but the conditions still tell', () => {
    const relay = makeRelay({ spec: { paused: true, failoverDelaySeconds: 15 } });
    const result = reconcile(observe(relay, [stalled(), makePod('relay-b')]));
    expect(result.actions).toEqual([]);
    expect(result.podAnnotations).toEqual([]);
    expect(result.status.lastFailoverTime).toBeUndefined();
    expect(condition(result.status, 'Degraded')).toMatchObject({ status: 'True', reason: 'LeaderStalled' });
  });
});

describe('failover: what the operator cannot see is reported, never acted on', () => {
  const lastKnown: OutboxRelayStatus = { currentLeader: 'relay-a', leaderEpoch: 7, partitionLeaders: [{ partition: 0, pod: 'relay-a', epoch: 7 }] };

  test('a Ready leader that does not answer /status: PodsUnreachable, LeaderUnreachable, no action however long', () => {
    const pods = [leaderPod('relay-a', 7, { report: null }), makePod('relay-b')];
    const first = reconcile(observe(relayWith(lastKnown), pods));
    expect(first.actions).toEqual([]);
    expect(first.status.unresponsivePods).toEqual([{ pod: 'relay-a', since: NOW.toISOString() }]);
    expect(condition(first.status, 'PodsUnreachable')).toMatchObject({ status: 'True', reason: 'SomePodsUnreachable', message: expect.stringContaining('(relay-a)') });
    expect(condition(first.status, 'Degraded')).toMatchObject({ status: 'True', reason: 'LeaderUnreachable' });
    expect(condition(first.status, 'LeaderElected')).toMatchObject({ status: 'Unknown', reason: 'LeaderUnresponsive' });
    expect(first.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'PodsUnreachable' }));

    const hourLater = reconcile(observe(relayWith(first.status), pods, { now: secondsLater(3600) }));
    expect(hourLater.actions).toEqual([]);
    expect(hourLater.status.unresponsivePods).toEqual([{ pod: 'relay-a', since: NOW.toISOString() }]);
    // The event marks the change, not every reconcile.
    expect(hourLater.events.map((e) => e.reason)).not.toContain('PodsUnreachable');
  });

  test('every pod unreachable (the operator is the one cut off): AllPodsUnreachable, nothing done', () => {
    const pods = [leaderPod('relay-a', 7, { report: null }), makePod('relay-b', { report: null })];
    const result = reconcile(observe(relayWith(lastKnown), pods, { now: secondsLater(600) }));
    expect(result.actions).toEqual([]);
    expect(result.podAnnotations).toEqual([]);
    expect(condition(result.status, 'PodsUnreachable')).toMatchObject({ status: 'True', reason: 'AllPodsUnreachable', message: expect.stringContaining('relay-a, relay-b') });
  });

  test('a leader that is not ready and does not answer is left to its lease; not ready, it is no PodsUnreachable case', () => {
    const pods = [leaderPod('relay-a', 7, { ready: false, notReadySince: secondsAgo(600), report: null }), makePod('relay-b')];
    const result = reconcile(observe(relayWith(lastKnown), pods));
    expect(result.actions).toEqual([]);
    expect(condition(result.status, 'Degraded')).toMatchObject({ status: 'True', reason: 'LeaderNotReady' });
    expect(condition(result.status, 'PodsUnreachable')).toMatchObject({ status: 'False', reason: 'PodsAnswer' });
  });

  test('a leader that is not ready but reports progress: reported, publishing goes on', () => {
    const result = reconcile(observe(relayWith(), [leaderPod('relay-a', 7, { ready: false, notReadySince: secondsAgo(600) }), makePod('relay-b')]));
    expect(result.actions).toEqual([]);
    expect(condition(result.status, 'Degraded')).toMatchObject({ status: 'True', reason: 'LeaderNotReady' });
    expect(condition(result.status, 'Ready')).toMatchObject({ status: 'True' });
  });

  test('a probe that answers again clears the record and the condition', () => {
    const failing = reconcile(observe(relayWith(), [leaderPod('relay-a', 7), makePod('relay-b', { report: null })]));
    expect(failing.status.unresponsivePods).toEqual([{ pod: 'relay-b', since: NOW.toISOString() }]);
    const healed = reconcile(observe(relayWith(failing.status), [leaderPod('relay-a', 7), makePod('relay-b')], { now: secondsLater(5) }));
    expect(healed.status.unresponsivePods).toBeUndefined();
    expect(condition(healed.status, 'PodsUnreachable')).toMatchObject({ status: 'False' });
  });
});

describe('pod-deletion-cost: followers go before leaders on scale-down and rollout', () => {
  const cost = (value: string) => ({ annotations: { [POD_DELETION_COST_ANNOTATION]: value } });

  test('each leader carries the number of partitions it leads; followers carry none; only changes are written', () => {
    const relay = relayWith(undefined, { partitionCount: 3 });
    const pods = [
      makePod('relay-a', { report: report('relay-a', { 0: 4, 2: 4 }, 3) }),
      makePod('relay-b', { report: report('relay-b', { 1: 2 }, 3), ...cost('1') }),
      // Led before; not any more.
      makePod('relay-c', { report: report('relay-c', {}, 3), ...cost('1') }),
      makePod('relay-d', { report: report('relay-d', {}, 3) }),
    ];
    expect(reconcile(observe(relay, pods)).podAnnotations).toEqual([
      { pod: 'relay-a', annotations: { [POD_DELETION_COST_ANNOTATION]: '2' } },
      { pod: 'relay-c', annotations: { [POD_DELETION_COST_ANNOTATION]: null } },
    ]);
  });

  test('a pod that did not answer keeps what it has: leadership is not judged on a missing report', () => {
    const result = reconcile(observe(relayWith({ partitionLeaders: [{ partition: 0, pod: 'relay-a', epoch: 7 }] }), [makePod('relay-a', { report: null, ...cost('1') }), makePod('relay-b', { report: undefined, ...cost('1') })]));
    expect(result.podAnnotations).toEqual([]);
  });
});
