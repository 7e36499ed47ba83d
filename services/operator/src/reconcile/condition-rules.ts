import type { OutboxRelaySpec } from '../api/types';
import type { ConditionInput } from './conditions';
import type { FailoverDecision, UnhealthyLeader } from './failover';
import type { LeaderView } from './leader';
import type { PodCounts, RolloutState } from './rollout';
import type { ObservedPod } from './types';
import { describeIssues, type SpecIssue } from './validate';

export interface ConditionContext {
  spec: OutboxRelaySpec;
  issues: SpecIssue[];
  pods: readonly ObservedPod[];
  counts: PodCounts;
  rollout: RolloutState;
  leaders: LeaderView;
  failover: FailoverDecision;
  switchoverNote?: string;
}

/** The five conditions, all derived from the same observed facts so they never contradict each other. */
export function conditionInputs(ctx: ConditionContext): ConditionInput[] {
  const leaderElected = leaderElectedCondition(ctx);
  return [
    readyCondition(ctx, leaderElected),
    leaderElected,
    progressingCondition(ctx),
    degradedCondition(ctx),
    ctx.spec.paused
      ? { type: 'Paused', status: 'True', reason: 'Paused', message: 'spec.paused is true: the operator changes nothing' }
      : { type: 'Paused', status: 'False', reason: 'Reconciling', message: 'the operator reconciles this relay' },
  ];
}

function describeUnhealthy(u: UnhealthyLeader): string {
  const what = u.reason === 'NotReady' ? 'not ready' : 'not answering /status';
  return `leader ${u.pod} ${what} since ${u.since}; failover due at ${u.dueAt}`;
}

function leaderElectedCondition(ctx: ConditionContext): ConditionInput {
  const { leaders, failover, spec } = ctx;
  const note = ctx.switchoverNote ? `; ${ctx.switchoverNote}` : '';
  const type = 'LeaderElected';
  if (failover.actions.length > 0) {
    const pods = failover.actions.map((a) => a.pod).join(', ');
    return { type, status: 'False', reason: 'LeaderFailover', message: `failing over from ${pods}` };
  }
  const current = leaders.current;
  if (!current) {
    if (spec.replicas === 0) return { type, status: 'False', reason: 'ScaledToZero', message: 'spec.replicas is 0' };
    const probed = ctx.pods.filter((p) => p.report !== undefined);
    if (probed.length === 0) {
      return { type, status: 'Unknown', reason: 'NotProbed', message: 'no relay pod has reported its status yet' };
    }
    return { type, status: 'False', reason: 'NoLeader', message: `none of ${probed.length} probed pods leads a partition` };
  }
  if (!current.fresh) {
    return {
      type,
      status: 'Unknown',
      reason: 'LeaderUnresponsive',
      message: `last known leader ${current.pod} (epoch ${current.epoch}) does not answer${note}`,
    };
  }
  const led = new Set(leaders.partitionLeaders.map((l) => l.partition));
  const missing = Array.from({ length: spec.partitions }, (_, i) => i).filter((p) => !led.has(p));
  if (missing.length > 0) {
    return {
      type,
      status: 'False',
      reason: 'PartitionsWithoutLeader',
      message: `partitions ${missing.join(',')} have no leader; ${current.pod} leads partition ${current.partition}${note}`,
    };
  }
  return {
    type,
    status: 'True',
    reason: 'LeaderFound',
    message: `${current.pod} leads partition ${current.partition} at epoch ${current.epoch} since ${current.since}${note}`,
  };
}

function readyCondition(ctx: ConditionContext, leaderElected: ConditionInput): ConditionInput {
  const { spec, counts, failover } = ctx;
  const type = 'Ready';
  if (ctx.issues.length > 0) return { type, status: 'False', reason: 'InvalidSpec', message: describeIssues(ctx.issues) };
  const unhealthy = failover.unhealthyLeaders[0];
  const serving = leaderElected.status === 'True' && !unhealthy;
  const counted = `${counts.readyReplicas} of ${spec.replicas} pods ready`;
  if (spec.paused) {
    return { type, status: serving ? 'True' : 'False', reason: 'Paused', message: `paused; ${counted}` };
  }
  if (spec.replicas === 0) return { type, status: 'False', reason: 'ScaledToZero', message: 'spec.replicas is 0' };
  if (unhealthy) return { type, status: 'False', reason: 'LeaderUnhealthy', message: describeUnhealthy(unhealthy) };
  if (!serving) return { type, status: 'False', reason: leaderElected.reason, message: leaderElected.message };
  if (counts.readyReplicas < spec.replicas) {
    // Publishing works; a failover would have to wait for a pod to start.
    return { type, status: 'True', reason: 'ReducedRedundancy', message: counted };
  }
  return { type, status: 'True', reason: 'Ready', message: counted };
}

function progressingCondition(ctx: ConditionContext): ConditionInput {
  const type = 'Progressing';
  if (ctx.issues.length > 0) {
    return { type, status: 'False', reason: 'InvalidSpec', message: 'the spec is invalid; nothing is applied' };
  }
  if (ctx.spec.paused) return { type, status: 'False', reason: 'Paused', message: 'spec.paused is true' };
  const r = ctx.rollout;
  return { type, status: r.done ? 'False' : 'True', reason: r.reason, message: r.message };
}

function degradedCondition(ctx: ConditionContext): ConditionInput {
  const type = 'Degraded';
  if (ctx.issues.length > 0) return { type, status: 'True', reason: 'InvalidSpec', message: describeIssues(ctx.issues) };
  if (ctx.failover.actions.length > 0) {
    return { type, status: 'True', reason: 'LeaderFailover', message: ctx.failover.actions.map((a) => a.reason).join('; ') };
  }
  const unhealthy = ctx.failover.unhealthyLeaders[0];
  if (unhealthy) {
    const reason = unhealthy.reason === 'NotReady' ? 'LeaderNotReady' : 'LeaderUnresponsive';
    return { type, status: 'True', reason, message: describeUnhealthy(unhealthy) };
  }
  const stuck = ctx.rollout.stuck;
  if (stuck) return { type, status: 'True', reason: stuck.reason, message: stuck.message };
  return { type, status: 'False', reason: 'AsExpected', message: 'no fault observed' };
}
