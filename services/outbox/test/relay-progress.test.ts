import { type OutboxRelay } from '@outbox-relay/outbox';
import { ProgressTracker } from '../src/relay/progress';
import type { OutboxRecord } from '../src/outbox-record';
import { makeRelay, recordingObserver, relayTestBed, waitFor } from '@outbox-relay/test-support';

describe('ProgressTracker: what /status says of each led partition', () => {
  const record = { id: 'e1', seq: '1', createdAt: new Date() } as unknown as OutboxRecord;

  test("a term's age, and the age of its last acknowledged publish (none yet at first)", () => {
    let now = 100;
    const { observer, calls } = recordingObserver();
    const tracker = new ProgressTracker(observer, () => now);
    expect(tracker.progress(0)).toBeNull();
    tracker.leadershipChanged(0, 7);
    now = 150;
    expect(tracker.progress(0)).toEqual({ leadingForMs: 50, publishedAgoMs: null });
    now = 170;
    tracker.published(0, [record], 0, Date.now());
    now = 200;
    expect(tracker.progress(0)).toEqual({ leadingForMs: 100, publishedAgoMs: 30 });
    // Another partition's publishes say nothing about this one.
    tracker.published(1, [record], 0, Date.now());
    expect(tracker.progress(1)).toBeNull();
    // Everything still reaches the metrics.
    expect(calls.leadership).toEqual([{ partition: 0, epoch: 7 }]);
    expect(calls.published).toHaveLength(2);
  });

  test('a dead-lettered event is progress too; losing the lease ends the term, and a new term starts afresh', () => {
    let now = 0;
    const tracker = new ProgressTracker(recordingObserver().observer, () => now);
    tracker.leadershipChanged(0, 1);
    now = 40;
    tracker.deadLettered(0);
    now = 50;
    expect(tracker.progress(0)).toEqual({ leadingForMs: 50, publishedAgoMs: 10 });
    tracker.leadershipChanged(0, null);
    expect(tracker.progress(0)).toBeNull();
    now = 60;
    tracker.leadershipChanged(0, 2);
    now = 65;
    expect(tracker.progress(0)).toEqual({ leadingForMs: 5, publishedAgoMs: null });
  });
});

describe('OutboxRelay.status(): progress of the partitions it leads', () => {
  const bed = relayTestBed('relayprogress');
  const start = async (id: string): Promise<OutboxRelay> => {
    const relay = makeRelay(bed.db, bed.ns, bed.ns.nc, { instanceId: id });
    bed.relays.push(relay);
    await relay.start();
    return relay;
  };

  test('the leader reports its term, its last renewal and its last publish; a follower reports none', async () => {
    const leader = await start('progress-a');
    await waitFor('a leads', () => leader.status().leading || undefined);
    const follower = await start('progress-b');
    expect(leader.status().natsConnected).toBe(true);
    const fresh = leader.status().partitions[0]!;
    expect(fresh).toMatchObject({ leading: true, publishedAgoMs: null });
    expect(fresh.leadingForMs).toEqual(expect.any(Number));
    // Leading means a renewal within the lease (the relay stops calling itself leader past 90% of it).
    expect(fresh.renewedAgoMs).toBeLessThan(leader.settings.leaseMs);

    await bed.outbox.transaction((tx) => bed.outbox.enqueue(tx, { aggregateType: 'Order', aggregateId: 'o1', eventType: 'Created', payload: {} }));
    const published = await waitFor('the publish reported', () => {
      const p = leader.status().partitions[0]!;
      return p.publishedAgoMs !== null ? p : undefined;
    });
    expect(published.publishedAgoMs).toBeLessThanOrEqual(published.leadingForMs!);
    expect(follower.status().partitions[0]).toMatchObject({ leading: false, leadingForMs: null, renewedAgoMs: null, publishedAgoMs: null });

    await leader.stepDown();
    expect(leader.status().partitions[0]).toMatchObject({ leading: false, leadingForMs: null, renewedAgoMs: null, publishedAgoMs: null });
  });
});
