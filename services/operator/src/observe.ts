import type { OutboxRelayResource } from './api/types';
import type { V1Deployment, V1Job, V1Pod, V1Secret } from './kube/client-node';
import type { PodProber } from './prober';
import { PARTITION_TARGET_ANNOTATION } from './reconcile/partition-job';
import type { ObservedPartitionJob, ObservedPod, ObservedSecret, ObservedState } from './reconcile/types';
import { isoTime } from './time';
import { CONTAINER_NAME } from './reconcile/pod-template';

/** What reconcile needs to know of a pod, from the pod object alone (no probe yet). */
export function observePod(pod: V1Pod): ObservedPod {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const isReady = ready?.status === 'True';
  // When readiness last changed; the kubelet's own clock of how long a leader has been unready.
  const changed = isoTime(ready?.lastTransitionTime);
  const deletedAt = isoTime(pod.metadata?.deletionTimestamp);
  return {
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    ...(pod.status?.podIP ? { ip: pod.status.podIP } : {}),
    ready: isReady && !deletedAt,
    ...(changed ? (isReady ? { readySince: changed } : { notReadySince: changed }) : {}),
    deleting: !!deletedAt,
    createdAt: isoTime(pod.metadata?.creationTimestamp) ?? new Date(0).toISOString(),
    ...(pod.metadata?.annotations ? { annotations: pod.metadata.annotations } : {}),
    ...configurationExitOf(pod),
  };
}

/** The relay's documented exit status for configuration errors (services/relay/src/main.ts, runtime's readEnvOrExit). */
export const RELAY_CONFIG_EXIT_CODE = 2;

/**
 * A relay container that is not running again since it exited with status 2 (restarting, or in back-off). A
 * container that came back up is past it, whatever its last termination says.
 */
function configurationExitOf(pod: V1Pod): Pick<ObservedPod, 'configurationExit'> {
  const status = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER_NAME);
  if (!status || status.ready || status.state?.running) return {};
  const terminated = status.state?.terminated ?? status.lastState?.terminated;
  if (terminated?.exitCode !== RELAY_CONFIG_EXIT_CODE) return {};
  return { configurationExit: { exitCode: terminated.exitCode, message: lastRelayLine(terminated.message ?? '') } };
}

/**
 * The relay's own one-line reason (`outbox-relay: ...`) from a termination message, which with
 * FallbackToLogsOnError is the tail of the log (JSON lines before it); else the last line.
 */
function lastRelayLine(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const own = lines.filter((l) => l.startsWith('outbox-relay: ')).pop();
  return (own ?? lines.pop() ?? 'no termination message').slice(0, 1024);
}

/**
 * A partition-count Job as reconcile needs it; undefined for a Job that is not one the operator made (no target
 * annotation or no sequence in its name), which is then not counted.
 */
export function observePartitionJob(job: V1Job): ObservedPartitionJob | undefined {
  const name = job.metadata?.name ?? '';
  const sequence = Number(/-(\d+)$/.exec(name)?.[1]);
  const target = Number(job.metadata?.annotations?.[PARTITION_TARGET_ANNOTATION]);
  if (!Number.isInteger(sequence) || !Number.isInteger(target)) return undefined;
  const condition = (type: string) => job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
  const failed = condition('Failed');
  if (failed) return { name, sequence, target, state: 'failed', message: failed.message || failed.reason || 'failed' };
  if (condition('Complete')) return { name, sequence, target, state: 'succeeded' };
  return { name, sequence, target, state: 'running' };
}

/** A Secret's name and data, nothing else (its values stay base64, as the API returns them). */
export function observeSecret(secret: V1Secret): ObservedSecret {
  return { name: secret.metadata?.name ?? '', data: { ...secret.data } };
}

export interface ObserveInput {
  relay: OutboxRelayResource;
  deployment?: V1Deployment;
  pods: readonly V1Pod[];
  /** The relay's partition-count Jobs. */
  partitionJobs?: readonly V1Job[];
  /** The referenced Secrets that exist. */
  secrets: readonly V1Secret[];
  defaultImage: string;
  prober: PodProber;
  now: () => Date;
}

/**
 * Everything reconcile looks at, probes included. Every pod with an IP is probed, unready and terminating ones
 * too: an unready leader that still answers can be asked to step down, and a terminating one may still lead.
 * Pods without an IP are not probed (report undefined).
 */
export async function observe(input: ObserveInput): Promise<ObservedState> {
  const pods = await Promise.all(
    input.pods.map(async (pod): Promise<ObservedPod> => {
      const observed = observePod(pod);
      if (!observed.ip) return observed;
      return { ...observed, report: await input.prober.status({ name: observed.name, ip: observed.ip }) };
    }),
  );
  return {
    relay: input.relay,
    ...(input.deployment ? { deployment: input.deployment } : {}),
    pods: pods.sort((a, b) => a.name.localeCompare(b.name)),
    ...(input.partitionJobs
      ? { partitionJobs: input.partitionJobs.map(observePartitionJob).filter((j): j is ObservedPartitionJob => j !== undefined) }
      : {}),
    secrets: input.secrets.map(observeSecret),
    defaultImage: input.defaultImage,
    now: input.now(),
  };
}
