import { withDefaults } from '../api/defaults';
import { conditionInputs } from './condition-rules';
import { mergeConditions } from './conditions';
import { transitionEvents } from './events';
import { decideFailover, type FailoverDecision } from './failover';
import { podDeletionCosts } from './deletion-cost';
import { trackUnresponsive, unreachablePods } from './health';
import { discoverLeaders } from './leader';
import { decidePartitionCount } from './partition-count';
import { checkSecrets, referencedSecrets } from './secrets';
import { desiredObjects } from './objects';
import { countPods, rolloutState } from './rollout';
import { buildStatus } from './status';
import { decideSwitchover, type SwitchoverDecision } from './switchover';
import type { ObservedState, ReconcileResult } from './types';
import { validateRelay } from './validate';

export type * from './types';
export { validateRelay, describeIssues } from './validate';
export { selectorLabels, selectorString, relayLabels } from './metadata';

/** The operator runs without POD_NAMESPACE: a policy letting in only metricsFrom would shut out its probes. */
const NETWORK_POLICY_WITHOUT_OPERATOR = {
  type: 'Warning' as const,
  reason: 'NetworkPolicyNotCreated',
  message: 'spec.networkPolicy.enabled, but the operator does not know its own namespace (POD_NAMESPACE), so no NetworkPolicy is made',
};

/** Bounds of the periodic re-check: probe failures raise no watch event, so only a timer notices them. */
export const MIN_RECHECK_MS = 1000;
export const MAX_RECHECK_MS = 30_000;

/**
 * Pure and level-triggered: from what exists now (the resource, its Deployment, its pods and their reports) to what
 * should exist, the status to write, and the actions to take. It never looks at whether the generation changed,
 * because leader health moves without any spec change.
 */
export function reconcile(observed: ObservedState): ReconcileResult {
  const { relay, pods, now } = observed;
  const previous = relay.status;
  const spec = withDefaults(relay.spec);
  const issues = validateRelay(relay, spec);
  const deleting = !!relay.metadata?.deletionTimestamp;
  const secrets = checkSecrets(referencedSecrets(spec), observed.secrets);
  // Paused, invalid or deleted: look, report, but touch nothing (owner references clean up after a deletion). A
  // missing Secret too: pods rolled now could not start, and the running ones still work.
  const active = !spec.paused && issues.length === 0 && !deleting && secrets.missing.length === 0;
  const image = spec.image ?? observed.defaultImage;

  const counts = countPods(pods);
  const leaders = discoverLeaders(pods, previous, now);
  const unresponsive = trackUnresponsive(pods, previous, now);
  const decided = decideFailover({ spec, pods, leaders, previous, now });
  const failover: FailoverDecision = active ? decided : { actions: [], events: [], concerns: decided.concerns };
  const switchover: SwitchoverDecision =
    active && failover.actions.length === 0
      ? decideSwitchover(relay, pods, leaders, now)
      : { actions: [], events: [] };

  // A partition count change pauses writers: never in the same reconcile as a failover or a switchover.
  const partitionCount = decidePartitionCount({
    relay,
    spec,
    pods,
    jobs: observed.partitionJobs ?? [],
    image,
    mayStart: active && failover.actions.length === 0 && switchover.actions.length === 0,
  });
  const partitionChange = partitionCount.job
    ? [{ kind: 'StartPartitionChange' as const, job: partitionCount.job, reason: partitionCount.condition.message }]
    : [];

  const rollout = rolloutState(spec.replicas, observed.deployment, counts);
  const inputs = conditionInputs({
    spec,
    issues,
    pods,
    counts,
    rollout,
    leaders,
    failover,
    unreachable: unreachablePods(pods, unresponsive),
    partitionCount,
    missingSecrets: secrets.missing,
    ...(switchover.note ? { switchoverNote: switchover.note } : {}),
  });
  const conditions = mergeConditions(previous?.conditions, inputs, now, relay.metadata?.generation ?? 0);
  const status = buildStatus({
    relay,
    counts,
    leaders,
    failover,
    unresponsive,
    conditions,
    partitions: partitionCount.count,
    ...(active ? { image } : {}),
  });

  const children = active ? desiredObjects(relay, spec, { image, secretsHash: secrets.hash }, observed) : undefined;
  const result: ReconcileResult = {
    objects: children?.objects ?? [],
    ...(children?.deletions.length ? { deletions: children.deletions } : {}),
    status,
    actions: [...failover.actions, ...switchover.actions, ...partitionChange],
    podAnnotations: active ? podDeletionCosts(pods, leaders) : [],
    events: [
      ...failover.events,
      ...switchover.events,
      ...transitionEvents(previous, conditions, leaders),
      ...(children?.networkPolicyWithoutOperator ? [NETWORK_POLICY_WITHOUT_OPERATOR] : []),
    ],
  };
  if (active) {
    const recheck = Math.min(Math.max((spec.failoverDelaySeconds * 1000) / 2, MIN_RECHECK_MS), MAX_RECHECK_MS);
    result.requeueAfterMs = Math.min(
      recheck,
      failover.requeueAfterMs ?? recheck,
      switchover.requeueAfterMs ?? recheck,
      partitionCount.requeueAfterMs ?? recheck,
    );
  }
  return result;
}
