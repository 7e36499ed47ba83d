import type { OutboxRelayResource, OutboxRelayStatus, UnresponsivePod } from '../api/types';
import type { Condition } from '../api/types';
import type { FailoverDecision } from './failover';
import type { LeaderView } from './leader';
import { selectorString } from './metadata';
import type { PodCounts } from './rollout';

export interface StatusParts {
  relay: OutboxRelayResource;
  counts: PodCounts;
  leaders: LeaderView;
  failover: FailoverDecision;
  unresponsive: UnresponsivePod[];
  conditions: Condition[];
  /** The partition count the relays follow, when known. */
  partitions?: number | undefined;
  /** The image applied by this reconcile; undefined when nothing was applied (the last one applied stays). */
  image?: string;
}

/**
 * The whole status, written on every reconcile (server-side apply of the status subresource replaces the
 * operator's fields, so every field is always set or deliberately left out).
 */
export function buildStatus(parts: StatusParts): OutboxRelayStatus {
  const { relay, counts, leaders, failover } = parts;
  const previous = relay.status;
  const status: OutboxRelayStatus = {
    observedGeneration: relay.metadata?.generation ?? 0,
    replicas: counts.replicas,
    readyReplicas: counts.readyReplicas,
    selector: selectorString(relay),
    partitionLeaders: leaders.partitionLeaders,
    conditions: parts.conditions,
  };
  if (leaders.current) {
    status.currentLeader = leaders.current.pod;
    status.leaderEpoch = leaders.current.epoch;
    status.leaderSince = leaders.current.since;
  }
  const lastFailoverTime = failover.failoverTime ?? previous?.lastFailoverTime;
  if (lastFailoverTime) status.lastFailoverTime = lastFailoverTime;
  if (parts.partitions !== undefined) status.partitions = parts.partitions;
  if (parts.unresponsive.length > 0) status.unresponsivePods = parts.unresponsive;
  const image = parts.image ?? previous?.image;
  if (image) status.image = image;
  return status;
}
