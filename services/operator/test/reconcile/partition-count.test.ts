import { reconcile } from '../../src/reconcile';
import { observePartitionJob } from '../../src/observe';
import { selectorLabels } from '../../src/reconcile/metadata';
import { PARTITION_TARGET_ANNOTATION } from '../../src/reconcile/partition-job';
import type { ObservedPartitionJob, ObservedPod, ReconcileResult } from '../../src/reconcile/types';
import { validateManifest } from '../manifests/k8s-models';
import { leaderPod, makePod, makeRelay, observe, report, stalledReport } from './fixtures';

/** Two pods that both report `total` partitions, the first leading all of them. */
const podsFollowing = (total: number): ObservedPod[] => {
  const led = Object.fromEntries(Array.from({ length: total }, (_, p) => [p, 7]));
  return [makePod('orders-a', { report: report('orders-a', led, total) }), makePod('orders-b', { report: report('orders-b', {}, total) })];
};

const job = (sequence: number, target: number, state: ObservedPartitionJob['state'], message?: string): ObservedPartitionJob => ({
  name: `orders-partitions-${sequence}`,
  sequence,
  target,
  state,
  ...(message ? { message } : {}),
});

function run(partitions: number | undefined, pods: ObservedPod[], jobs: ObservedPartitionJob[] = [], paused = false): ReconcileResult {
  const relay = makeRelay({ spec: { ...(partitions === undefined ? {} : { partitionCount: partitions }), paused } });
  return reconcile({ ...observe(relay, pods), partitionJobs: jobs });
}

const condition = (result: ReconcileResult) => {
  const c = result.status.conditions?.find((x) => x.type === 'PartitionCountApplied');
  return `${c?.status}/${c?.reason}`;
};
const started = (result: ReconcileResult) => result.actions.filter((a) => a.kind === 'StartPartitionChange');

describe('spec.partitionCount: the operator keeps the schema at the count, one Job at a time', () => {
  test('unset: the schema count is kept and reported, no Job', () => {
    const result = run(undefined, podsFollowing(4));
    expect(condition(result)).toBe('True/NotManaged');
    expect(result.status.partitions).toBe(4);
    expect(started(result)).toEqual([]);
  });

  test('a count the relays do not follow starts a Job running outbox-migrate with the target, once its start is recorded', () => {
    const result = run(4, podsFollowing(2));
    expect(condition(result)).toBe('False/MigrationRunning');
    expect(result.status.conditions?.find((c) => c.type === 'PartitionCountApplied')?.message).toBe(
      'Job orders-partitions-1 is changing the partition count from 2 to 4',
    );
    expect(result.status.partitions).toBe(2);
    const [action] = started(result);
    if (action?.kind !== 'StartPartitionChange') throw new Error('no Job started');
    const { job: created } = action;
    expect(created.metadata).toMatchObject({ name: 'orders-partitions-1', namespace: 'shop', annotations: { [PARTITION_TARGET_ANNOTATION]: '4' } });
    expect(created.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'OutboxRelay', name: 'orders', controller: true });
    const container = created.spec?.template.spec?.containers[0];
    expect(container?.command).toEqual(['node', 'services/outbox/dist/cli/migrate.js']);
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env).toEqual({
      DATABASE_URL: { secretKeyRef: { name: 'orders-db', key: 'url' } },
      OUTBOX_SCHEMA: 'outbox',
      OUTBOX_PARTITIONS: '4',
      OUTBOX_PARTITION_DRAIN_TIMEOUT_MS: '30000',
      LOG_LEVEL: 'info',
    });
    expect(created.spec?.template.spec?.restartPolicy).toBe('Never');
    expect(() => validateManifest(created)).not.toThrow();
    // Its pod is no relay pod: the Deployment's selector, the PDB and the operator's pod informer must not pick it.
    const labels = created.spec?.template.metadata?.labels ?? {};
    const selector = selectorLabels(makeRelay());
    expect(Object.entries(selector).every(([k, v]) => labels[k] === v)).toBe(false);
    expect(labels['app.kubernetes.io/name']).not.toBe('outbox-relay');
    expect(result.requeueAfterMs).toBeLessThanOrEqual(5000);
  });

  test('while a Job runs nothing else starts, even for a newer count', () => {
    const result = run(8, podsFollowing(2), [job(1, 4, 'running')]);
    expect(condition(result)).toBe('False/MigrationRunning');
    expect(result.status.conditions?.find((c) => c.type === 'PartitionCountApplied')?.message).toMatch(/orders-partitions-1 .* to 4; spec.partitionCount \(8\) is applied after it/);
    expect(started(result)).toEqual([]);
  });

  test('the relays following the count: applied, whatever Jobs are left', () => {
    expect(condition(run(4, podsFollowing(4), [job(1, 4, 'succeeded')]))).toBe('True/CountApplied');
    expect(condition(run(4, podsFollowing(4)))).toBe('True/CountApplied');
    expect(started(run(4, podsFollowing(4), [job(1, 2, 'failed', 'BackoffLimitExceeded')]))).toEqual([]);
  });

  test('a Job that failed for this count is reported and not tried again; one for another count does not block a new one', () => {
    const failed = run(4, podsFollowing(2), [job(1, 4, 'failed', 'Job has reached the specified backoff limit')]);
    expect(condition(failed)).toBe('False/MigrationFailed');
    expect(failed.status.conditions?.find((c) => c.type === 'PartitionCountApplied')?.message).toMatch(
      /orders-partitions-1 did not change the partition count to 4 \(Job has reached the specified backoff limit\); kubectl logs job\/orders-partitions-1 .* Delete the Job to try again/,
    );
    expect(started(failed)).toEqual([]);

    const other = run(3, podsFollowing(2), [job(1, 4, 'failed', 'x'), job(2, 2, 'succeeded')]);
    expect(started(other).map((a) => a.kind === 'StartPartitionChange' && a.job.metadata?.name)).toEqual(['orders-partitions-3']);
  });

  test('a Job that succeeded while the relays still follow the old count: waiting, nothing started again', () => {
    const result = run(4, podsFollowing(2), [job(1, 4, 'succeeded')]);
    expect(condition(result)).toBe('False/WaitingForRelays');
    expect(started(result)).toEqual([]);
  });

  test('never on what it cannot see: no relay reporting, or relays that disagree', () => {
    const silent = run(4, [makePod('orders-a', { report: null }), makePod('orders-b', { report: report('orders-b', {}, 0) })]);
    expect(condition(silent)).toBe('Unknown/CountUnknown');
    expect(silent.status.partitions).toBeUndefined();
    expect(started(silent)).toEqual([]);

    const split = run(4, [makePod('orders-a', { report: report('orders-a', { 0: 3 }, 2) }), makePod('orders-b', { report: report('orders-b', {}, 3) })]);
    expect(condition(split)).toBe('Unknown/CountUnknown');
    expect(split.status.conditions?.find((c) => c.type === 'PartitionCountApplied')?.message).toMatch(/orders-a follow 2; orders-b follow 3/);
    expect(started(split)).toEqual([]);
  });

  test('never together with another disruptive action, and never while paused', () => {
    const stalled = [makePod('orders-a', { report: stalledReport('orders-a', 7, { total: 2, partitions: { 0: 7, 1: 7 } }) }), makePod('orders-b', { report: report('orders-b', {}, 2) })];
    const busy = run(4, stalled);
    expect(busy.actions.map((a) => a.kind)).toEqual(['EvictPod']);
    expect(condition(busy)).toBe('False/ChangePending');

    const paused = run(4, podsFollowing(2), [], true);
    expect(paused.actions).toEqual([]);
  });

  test('partitions without a leader are judged by the count the relays follow, not by spec.partitionCount', () => {
    // The schema has 4 partitions; only 0 and 1 are led. spec.partitionCount unset (spec.partitions used to default to 1 and was the count judged, which hid 2 and 3).
    const pods = [leaderPod('orders-a', 7, { report: report('orders-a', { 0: 7, 1: 7 }, 4) }), makePod('orders-b', { report: report('orders-b', {}, 4) })];
    const elected = run(undefined, pods).status.conditions?.find((c) => c.type === 'LeaderElected');
    expect(elected).toMatchObject({ status: 'False', reason: 'PartitionsWithoutLeader' });
    expect(elected?.message).toMatch(/^partitions 2,3 have no leader/);
  });
});

describe('observePartitionJob: a Job as the Job controller reports it', () => {
  const base = { metadata: { name: 'orders-partitions-3', annotations: { [PARTITION_TARGET_ANNOTATION]: '8' } } };
  test('running, complete, failed (with the reason), and Jobs that are not the operator\'s', () => {
    expect(observePartitionJob({ ...base, status: { active: 1 } })).toEqual({ name: 'orders-partitions-3', sequence: 3, target: 8, state: 'running' });
    expect(observePartitionJob({ ...base, status: { conditions: [{ type: 'Complete', status: 'True' }] } })?.state).toBe('succeeded');
    expect(observePartitionJob({ ...base, status: { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] } })).toMatchObject({
      state: 'failed',
      message: 'Job has reached the specified backoff limit',
    });
    expect(observePartitionJob({ metadata: { name: 'orders-partitions-3' } })).toBeUndefined();
    expect(observePartitionJob({ metadata: { name: 'by-hand', annotations: { [PARTITION_TARGET_ANNOTATION]: '8' } } })).toBeUndefined();
  });
});
