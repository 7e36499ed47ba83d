import type { OutboxRelaySpec, UnresponsivePod } from '../api/types';
import type { ConditionInput } from './conditions';
import type { FailoverDecision, LeaderConcern } from './failover';
import type { LeaderView } from './leader';
import type { PartitionCountDecision } from './partition-count';
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
  /** Pods Ready per the kubelet whose /status the operator cannot reach. */
  unreachable: readonly UnresponsivePod[];
  /** Secrets (or keys) the pods need that do not exist: nothing is applied until they do. */
  missingSecrets: readonly string[];
  switchoverNote?: string;
  /** The partition count the relays follow and whether it is spec.partitionCount. */
  partitionCount: PartitionCountDecision;
}

/** The seven conditions, all derived from the same observed facts so they never contradict each other. */
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
    podsUnreachableCondition(ctx),
    ctx.partitionCount.condition,
  ];
}

/** The leader concern that stops publishing (a stall, acted on or not), if any. */
const notPublishing = (ctx: ConditionContext): LeaderConcern | undefined =>
  ctx.failover.concerns.find((c) => c.kind === 'Stalled' || c.kind === 'NatsUnreachable');

function describeConcern(c: LeaderConcern, failover: FailoverDecision): string {
  const quiet = c.kind === 'Stalled' && failover.quietUntil ? `; waits for the quiet period after the last failover, until ${failover.quietUntil}` : '';
  return c.detail + quiet;
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
  // The schema's count as the relays report it (spec.partitionCount may be unset, or not applied yet).
  const missing = Array.from({ length: ctx.partitionCount.count ?? 0 }, (_, i) => i).filter((p) => !led.has(p));
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
  const stalled = notPublishing(ctx);
  const serving = leaderElected.status === 'True' && !stalled;
  const counted = `${counts.readyReplicas} of ${spec.replicas} pods ready`;
  if (spec.paused) {
    return { type, status: serving ? 'True' : 'False', reason: 'Paused', message: `paused; ${counted}` };
  }
  if (spec.replicas === 0) return { type, status: 'False', reason: 'ScaledToZero', message: 'spec.replicas is 0' };
  if (stalled) {
    const reason = stalled.kind === 'Stalled' ? 'LeaderStalled' : 'NatsUnreachable';
    return { type, status: 'False', reason, message: describeConcern(stalled, failover) };
  }
  if (!serving) {
    if (ctx.missingSecrets.length > 0) return { type, status: 'False', reason: 'SecretMissing', message: ctx.missingSecrets.join('; ') };
    const misconfigured = configurationFailure(ctx);
    if (misconfigured) return { type, status: 'False', reason: 'RelayConfigurationError', message: misconfigured };
    return { type, status: 'False', reason: leaderElected.reason, message: leaderElected.message };
  }
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
  if (ctx.missingSecrets.length > 0) {
    return { type, status: 'False', reason: 'SecretMissing', message: 'a Secret the pods need is missing; nothing is applied until it exists' };
  }
  const r = ctx.rollout;
  return { type, status: r.done ? 'False' : 'True', reason: r.reason, message: r.message };
}

/**
 * Relay pods down after exiting with the configuration status (the stream does not fit, a variable is refused):
 * a restart cannot help, the spec or the stream must change. Named with the relay's own line.
 */
function configurationFailure(ctx: ConditionContext): string | undefined {
  const failed = ctx.pods.filter((p) => p.configurationExit && !p.deleting);
  if (failed.length === 0) return undefined;
  const first = failed[0]!;
  const others = failed.length > 1 ? ` (and ${failed.length - 1} more pods)` : '';
  return `${first.name} exited with status ${first.configurationExit!.exitCode}${others}: ${first.configurationExit!.message}`;
}

function degradedCondition(ctx: ConditionContext): ConditionInput {
  const type = 'Degraded';
  if (ctx.issues.length > 0) return { type, status: 'True', reason: 'InvalidSpec', message: describeIssues(ctx.issues) };
  // Not while paused: the operator would not apply anything anyway, and says so in Paused.
  if (ctx.missingSecrets.length > 0 && !ctx.spec.paused) {
    return { type, status: 'True', reason: 'SecretMissing', message: `${ctx.missingSecrets.join('; ')}; nothing is applied until it exists` };
  }
  const misconfigured = configurationFailure(ctx);
  if (misconfigured) return { type, status: 'True', reason: 'RelayConfigurationError', message: misconfigured };
  if (ctx.failover.actions.length > 0) {
    return { type, status: 'True', reason: 'LeaderFailover', message: ctx.failover.actions.map((a) => a.reason).join('; ') };
  }
  const concern = ctx.failover.concerns[0];
  if (concern) {
    const reasons = { Stalled: 'LeaderStalled', NatsUnreachable: 'NatsUnreachable', Unreachable: 'LeaderUnreachable', NotReady: 'LeaderNotReady' };
    return { type, status: 'True', reason: reasons[concern.kind], message: describeConcern(concern, ctx.failover) };
  }
  const stuck = ctx.rollout.stuck;
  if (stuck) return { type, status: 'True', reason: stuck.reason, message: stuck.message };
  return { type, status: 'False', reason: 'AsExpected', message: 'no fault observed' };
}

/**
 * Pods the kubelet reports Ready but the operator cannot reach (CloudNativePG reports the same situation): most
 * likely the network between the operator and the pods (a NetworkPolicy, a CNI fault), so nothing disruptive is
 * done on their account. All of them unreachable is the clearest sign that the operator is the one cut off.
 */
function podsUnreachableCondition(ctx: ConditionContext): ConditionInput {
  const type = 'PodsUnreachable';
  const { unreachable } = ctx;
  if (unreachable.length === 0) return { type, status: 'False', reason: 'PodsAnswer', message: 'every ready relay pod answers /status' };
  const probed = ctx.pods.filter((p) => p.ready && !p.deleting && p.report !== undefined);
  const all = unreachable.length >= probed.length;
  const since = unreachable.map((u) => u.since).sort()[0];
  const names = unreachable.map((u) => u.pod).join(', ');
  return {
    type,
    status: 'True',
    reason: all ? 'AllPodsUnreachable' : 'SomePodsUnreachable',
    message:
      `${all ? 'every ready relay pod' : 'ready relay pods'} (${names}) do not answer /status, since ${since}, although the kubelet ` +
      'reports them Ready: the operator may be cut off from them (NetworkPolicy, CNI); nothing disruptive is done on their account',
  };
}
