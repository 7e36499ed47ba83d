import { API_GROUP } from '../api/group';
import type { V1Job } from '../api/k8s-types';
import type { OutboxRelayResource, OutboxRelaySpec } from '../api/types';
import { relayEnv } from './env';
import { APP_NAME, COMPONENT_LABEL, INSTANCE_LABEL, MANAGED_BY, MANAGED_BY_LABEL, ownerReference, relayName } from './metadata';
import { DEFAULT_RESOURCES, RELAY_UID, RELAY_WORKDIR } from './pod-template';

/**
 * Labels of a partition-count Job and its pod. Not the relay pods' `app.kubernetes.io/name`: the Job's pod must not
 * match the Deployment's selector, the PodDisruptionBudget, the anti-affinity or the operator's pod informer.
 */
export const PARTITION_JOB_COMPONENT = 'partition-count';
export const PARTITION_JOB_APP_NAME = `${APP_NAME}-migrate`;
/** The count a Job applies, on the Job, so the operator reads it back without parsing the container's env. */
export const PARTITION_TARGET_ANNOTATION = `${API_GROUP}/partitions`;
/** outbox-migrate (services/outbox/src/cli/migrate.ts), from the one image every process shares. */
export const MIGRATE_COMMAND = ['node', 'services/outbox/dist/cli/migrate.js'];
/**
 * A pending change takes the writers' partition map lock and waits this long at most for the relays to drain the
 * outbox: writers pause meanwhile, so the bound is short; a Job that gives up changed nothing and is tried again
 * (backoffLimit) after the Job controller's back-off.
 */
export const PARTITION_DRAIN_TIMEOUT_MS = 30_000;
export const PARTITION_JOB_BACKOFF_LIMIT = 2;

/** `<relay>-partitions-<sequence>`: at most 47 + 12 + 4 characters, within a Job name's 63. */
export function partitionJobName(relay: OutboxRelayResource, sequence: number): string {
  return `${relayName(relay)}-partitions-${sequence}`;
}

/**
 * The Job that applies `target` to the outbox schema: `outbox-migrate` with OUTBOX_PARTITIONS, through
 * `configurePartitions` (writers pause while the running relays drain the outbox, then the count switches and the
 * relays follow by NOTIFY). It also applies the image's outbox migrations, as a relay started with
 * OUTBOX_MIGRATE would. Kept after it finishes (no TTL): a failed one stays as the record the condition points to
 * and is not retried until it is deleted or spec.partitionCount changes; finished ones are the history of changes.
 */
export function desiredPartitionJob(
  relay: OutboxRelayResource,
  spec: OutboxRelaySpec,
  change: { sequence: number; target: number; image: string },
): V1Job {
  const { sequence, target, image } = change;
  // Where and how the relay pods may run applies to this pod too (a private registry, dedicated nodes).
  const pod = spec.template?.pod ?? {};
  const labels = {
    'app.kubernetes.io/name': PARTITION_JOB_APP_NAME,
    [INSTANCE_LABEL]: relayName(relay),
    [COMPONENT_LABEL]: PARTITION_JOB_COMPONENT,
    [MANAGED_BY_LABEL]: MANAGED_BY,
  };
  // Only what the migration needs: the database (the same Secret key as the relays) and the schema.
  const env = relayEnv(spec).filter((e) => e.name === 'DATABASE_URL' || e.name === 'OUTBOX_SCHEMA');
  env.push(
    { name: 'OUTBOX_PARTITIONS', value: String(target) },
    { name: 'OUTBOX_PARTITION_DRAIN_TIMEOUT_MS', value: String(PARTITION_DRAIN_TIMEOUT_MS) },
    { name: 'LOG_LEVEL', value: spec.logLevel },
  );
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: partitionJobName(relay, sequence),
      namespace: relay.metadata?.namespace ?? 'default',
      labels,
      annotations: { [PARTITION_TARGET_ANNOTATION]: String(target) },
      ownerReferences: [ownerReference(relay)],
    },
    spec: {
      backoffLimit: PARTITION_JOB_BACKOFF_LIMIT,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          ...(pod.imagePullSecrets ? { imagePullSecrets: pod.imagePullSecrets } : {}),
          ...(pod.nodeSelector ? { nodeSelector: pod.nodeSelector } : {}),
          ...(pod.tolerations ? { tolerations: pod.tolerations } : {}),
          ...(pod.priorityClassName ? { priorityClassName: pod.priorityClassName } : {}),
          serviceAccountName: relayName(relay),
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: RELAY_UID, runAsGroup: RELAY_UID, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'migrate',
              image,
              ...(spec.imagePullPolicy ? { imagePullPolicy: spec.imagePullPolicy } : {}),
              command: MIGRATE_COMMAND,
              workingDir: RELAY_WORKDIR,
              env,
              resources: spec.resources ?? DEFAULT_RESOURCES,
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              // outbox-migrate's last line says why it failed; the condition quotes it from the Job's pod.
              terminationMessagePolicy: 'FallbackToLogsOnError',
            },
          ],
        },
      },
    },
  };
}
