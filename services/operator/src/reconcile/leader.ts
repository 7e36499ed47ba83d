import type { OutboxRelayStatus, PartitionLeader } from '../api/types';
import type { ObservedPod } from './types';

export interface LeaderView {
  /** One entry per led partition, sorted by partition. */
  partitionLeaders: PartitionLeader[];
  /** Partitions whose leader is carried over from the previous status because its pod did not answer this time. */
  stalePartitions: number[];
  /** The leader of partition 0, else of the lowest led partition: what status.currentLeader shows. */
  current?: PartitionLeader & { since: string; fresh: boolean };
}

/**
 * Finds who leads each partition from the pods' `/status` reports. When two pods claim a partition (a hand-over in
 * flight) the higher epoch wins: the database fences the lower one. A leader whose pod stops answering stays the
 * leader as far as we know: forgetting it would also forget to fail it over.
 */
export function discoverLeaders(
  pods: readonly ObservedPod[],
  previous: OutboxRelayStatus | undefined,
  now: Date,
): LeaderView {
  const byPartition = new Map<number, PartitionLeader>();
  for (const pod of pods) {
    for (const p of pod.report?.partitions ?? []) {
      if (!p.leading) continue;
      const claim = { partition: p.partition, pod: pod.name, epoch: p.epoch ?? 0 };
      const other = byPartition.get(p.partition);
      if (!other || claim.epoch > other.epoch) byPartition.set(p.partition, claim);
    }
  }
  const stalePartitions: number[] = [];
  for (const old of previous?.partitionLeaders ?? []) {
    if (byPartition.has(old.partition)) continue;
    const pod = pods.find((p) => p.name === old.pod);
    // An answering pod that no longer claims the partition has given it up; a vanished pod leads nothing.
    if (pod && !pod.report) {
      byPartition.set(old.partition, { ...old });
      stalePartitions.push(old.partition);
    }
  }
  const partitionLeaders = [...byPartition.values()].sort((a, b) => a.partition - b.partition);
  const head = partitionLeaders.find((l) => l.partition === 0) ?? partitionLeaders[0];
  if (!head) return { partitionLeaders, stalePartitions };
  const sameTenure = previous?.currentLeader === head.pod && previous.leaderEpoch === head.epoch;
  const since = sameTenure && previous?.leaderSince ? previous.leaderSince : now.toISOString();
  return {
    partitionLeaders,
    stalePartitions,
    current: { ...head, since, fresh: !stalePartitions.includes(head.partition) },
  };
}

/** Pods leading at least one partition, each once, in partition order. */
export function leaderPods(view: LeaderView): string[] {
  return [...new Set(view.partitionLeaders.map((l) => l.pod))];
}

export function partitionsOf(view: LeaderView, pod: string): number[] {
  return view.partitionLeaders.filter((l) => l.pod === pod).map((l) => l.partition);
}
