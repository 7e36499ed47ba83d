import type { V1Job } from '../api/k8s-types';
import type { OutboxRelayResource, OutboxRelaySpec } from '../api/types';
import type { ConditionInput } from './conditions';
import { desiredPartitionJob, partitionJobName } from './partition-job';
import type { ObservedPartitionJob, ObservedPod } from './types';

/** While a change is under way nothing else raises a watch event the operator sees when it ends: look again. */
export const PARTITION_CHANGE_RECHECK_MS = 5000;

/**
 * The partition count the relay pods follow. A started relay's /status lists every partition of the schema, so
 * pods that answered and agree give the count; none, or pods that disagree (mid-change), give none.
 */
export function observedPartitionCount(pods: readonly ObservedPod[]): { count?: number; detail: string } {
  const counts = new Map<number, string[]>();
  for (const pod of pods) {
    const reported = pod.report?.partitions.length ?? 0;
    if (pod.deleting || reported === 0) continue;
    counts.set(reported, [...(counts.get(reported) ?? []), pod.name]);
  }
  if (counts.size === 1) {
    const [count] = counts.keys();
    return { count: count!, detail: `the relays follow ${count} partition(s)` };
  }
  if (counts.size === 0) return { detail: 'no started relay pod has reported its partitions' };
  const views = [...counts].map(([count, names]) => `${names.join(', ')} follow ${count}`).join('; ');
  return { detail: `the relay pods disagree (${views})` };
}

export interface PartitionCountInput {
  relay: OutboxRelayResource;
  spec: OutboxRelaySpec;
  pods: readonly ObservedPod[];
  jobs: readonly ObservedPartitionJob[];
  /** The relay image in use (spec.image, else the operator's default): the Job runs the same code. */
  image: string;
  /** Active and nothing disruptive decided in this reconcile: a new change may start. */
  mayStart: boolean;
}

export interface PartitionCountDecision {
  condition: ConditionInput;
  /** What the relays follow, for status.partitions. */
  count?: number;
  /** A Job to create: the change to spec.partitionCount starts. */
  job?: V1Job;
  requeueAfterMs?: number;
}

/**
 * Keeps the schema at spec.partitionCount through one Job at a time, and never acts on what it cannot see: without an
 * agreed count from the relays, or while a Job runs, or after a Job for the same count failed, it only reports.
 */
export function decidePartitionCount(input: PartitionCountInput): PartitionCountDecision {
  const { spec, jobs } = input;
  const type = 'PartitionCountApplied';
  const observed = observedPartitionCount(input.pods);
  const count = observed.count;
  const withCount = <T extends object>(d: T) => ({ ...d, ...(count === undefined ? {} : { count }) });
  const target = spec.partitionCount;
  if (target === undefined) {
    return withCount({ condition: { type, status: 'True', reason: 'NotManaged', message: `spec.partitionCount is not set: the schema's count is kept; ${observed.detail}` } });
  }
  const latest = [...jobs].sort((a, b) => b.sequence - a.sequence)[0];
  if (latest?.state === 'running') {
    const then = latest.target === target ? '' : `; spec.partitionCount (${target}) is applied after it`;
    return withCount({
      condition: { type, status: 'False', reason: 'MigrationRunning', message: `Job ${latest.name} is changing the partition count to ${latest.target}${then}` },
      requeueAfterMs: PARTITION_CHANGE_RECHECK_MS,
    });
  }
  if (count === target) {
    return withCount({ condition: { type, status: 'True', reason: 'CountApplied', message: observed.detail } });
  }
  if (latest?.target === target && latest.state === 'failed') {
    return withCount({
      condition: {
        type,
        status: 'False',
        reason: 'MigrationFailed',
        message: `Job ${latest.name} did not change the partition count to ${target} (${latest.message}); kubectl logs job/${latest.name} says why. Delete the Job to try again`,
      },
    });
  }
  if (count === undefined) {
    return { condition: { type, status: 'Unknown', reason: 'CountUnknown', message: `spec.partitionCount is ${target}; ${observed.detail}` } };
  }
  if (latest?.target === target && latest.state === 'succeeded') {
    return withCount({
      condition: { type, status: 'False', reason: 'WaitingForRelays', message: `Job ${latest.name} applied ${target} partitions; ${observed.detail}` },
      requeueAfterMs: PARTITION_CHANGE_RECHECK_MS,
    });
  }
  const sequence = (latest?.sequence ?? 0) + 1;
  if (!input.mayStart) {
    return withCount({ condition: { type, status: 'False', reason: 'ChangePending', message: `spec.partitionCount is ${target}; ${observed.detail}` } });
  }
  return withCount({
    condition: {
      type,
      status: 'False',
      reason: 'MigrationRunning',
      message: `Job ${partitionJobName(input.relay, sequence)} is changing the partition count from ${count} to ${target}`,
    },
    job: desiredPartitionJob(input.relay, spec, { sequence, target, image: input.image }),
    requeueAfterMs: PARTITION_CHANGE_RECHECK_MS,
  });
}
