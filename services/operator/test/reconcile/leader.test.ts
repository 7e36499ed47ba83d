import { discoverLeaders, leaderPods } from '../../src/reconcile/leader';
import type { OutboxRelayStatus } from '../../src/api/types';
import { NOW, makePod, report, secondsAgo } from './fixtures';

const previousLeader = (pod: string, epoch: number, since = secondsAgo(300)): OutboxRelayStatus => ({
  currentLeader: pod,
  leaderEpoch: epoch,
  leaderSince: since,
  partitionLeaders: [{ partition: 0, pod, epoch }],
});

describe('discoverLeaders', () => {
  test('the pod whose report leads partition 0 is the leader; first sighting starts leaderSince now', () => {
    const view = discoverLeaders([makePod('a', { report: report('a', { 0: 4 }) }), makePod('b')], undefined, NOW);
    expect(view.current).toEqual({ partition: 0, pod: 'a', epoch: 4, since: NOW.toISOString(), fresh: true });
    expect(view.partitionLeaders).toEqual([{ partition: 0, pod: 'a', epoch: 4 }]);
  });

  test('same pod and epoch as before keeps leaderSince; a new epoch restarts it', () => {
    const pods = [makePod('a', { report: report('a', { 0: 4 }) })];
    expect(discoverLeaders(pods, previousLeader('a', 4), NOW).current?.since).toBe(secondsAgo(300));
    expect(discoverLeaders(pods, previousLeader('a', 3), NOW).current?.since).toBe(NOW.toISOString());
    expect(discoverLeaders(pods, previousLeader('b', 4), NOW).current?.since).toBe(NOW.toISOString());
  });

  test('two pods claiming a partition during a hand-over: the higher epoch wins (the database fences the other)', () => {
    const pods = [makePod('old', { report: report('old', { 0: 4 }) }), makePod('new', { report: report('new', { 0: 5 }) })];
    expect(discoverLeaders(pods, undefined, NOW).current?.pod).toBe('new');
    expect(discoverLeaders([...pods].reverse(), undefined, NOW).current?.pod).toBe('new');
  });

  test('several partitions: one entry each, sorted; the leader shown is partition 0\'s', () => {
    const pods = [
      makePod('a', { report: report('a', { 2: 1, 3: 9 }, 4) }),
      makePod('b', { report: report('b', { 0: 3, 1: 2 }, 4) }),
    ];
    const view = discoverLeaders(pods, undefined, NOW);
    expect(view.partitionLeaders).toEqual([
      { partition: 0, pod: 'b', epoch: 3 },
      { partition: 1, pod: 'b', epoch: 2 },
      { partition: 2, pod: 'a', epoch: 1 },
      { partition: 3, pod: 'a', epoch: 9 },
    ]);
    expect(view.current?.pod).toBe('b');
    expect(leaderPods(view)).toEqual(['b', 'a']);
  });

  test('without a partition 0 leader, the lowest led partition\'s leader is shown', () => {
    const view = discoverLeaders([makePod('a', { report: report('a', { 2: 6 }, 3) })], undefined, NOW);
    expect(view.current).toMatchObject({ pod: 'a', partition: 2, epoch: 6 });
  });

  test('no report leads anything: no leader', () => {
    const view = discoverLeaders([makePod('a'), makePod('b')], undefined, NOW);
    expect(view.current).toBeUndefined();
    expect(view.partitionLeaders).toEqual([]);
  });

  test.each([
    ['probe failed', null],
    ['not probed', undefined],
  ])('a known leader whose pod gives no report (%s) stays leader, marked stale', (_label, reportValue) => {
    const pods = [makePod('a', { report: reportValue }), makePod('b')];
    const view = discoverLeaders(pods, previousLeader('a', 4), NOW);
    expect(view.current).toEqual({ partition: 0, pod: 'a', epoch: 4, since: secondsAgo(300), fresh: false });
    expect(view.stalePartitions).toEqual([0]);
  });

  test('a known leader that now answers without leading, or whose pod is gone, is forgotten', () => {
    expect(discoverLeaders([makePod('a')], previousLeader('a', 4), NOW).current).toBeUndefined();
    expect(discoverLeaders([makePod('b')], previousLeader('a', 4), NOW).current).toBeUndefined();
  });

  test('a fresh claim beats a carried-over one for the same partition', () => {
    const pods = [makePod('a', { report: null }), makePod('b', { report: report('b', { 0: 5 }) })];
    const view = discoverLeaders(pods, previousLeader('a', 4), NOW);
    expect(view.current).toMatchObject({ pod: 'b', epoch: 5, fresh: true });
    expect(view.stalePartitions).toEqual([]);
  });
});
