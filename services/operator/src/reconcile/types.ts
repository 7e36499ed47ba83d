import type { KubernetesObject, V1Deployment, V1Job } from '../api/k8s-types';
import type { OutboxRelayResource, OutboxRelayStatus } from '../api/types';
import type { ObservedSecret } from './secrets';

export type { ObservedSecret } from './secrets';

/**
 * One partition in a relay's `/status`. The progress fields are ages in ms measured by the relay (no clock to
 * compare); relays of an older version leave them out, and then there is no evidence to act on.
 */
export interface RelayPartitionReport {
  partition: number;
  leading: boolean;
  epoch: number | null;
  /** While leading: how long this term has run, since its last lease renewal, since its last acknowledged publish. */
  leadingForMs?: number | null;
  renewedAgoMs?: number | null;
  /** null while leading: nothing acknowledged yet in this term. */
  publishedAgoMs?: number | null;
  /** Unpublished events of the partition (every pod reads the backlog), and the age of the oldest. */
  pending?: number | null;
  oldestPendingAgeMs?: number | null;
}

/** Body of the relay's `GET /status` (services/relay). */
export interface RelayPodReport {
  instanceId: string;
  leading: boolean;
  partitions: RelayPartitionReport[];
  /** Age of the backlog reading `pending` comes from. */
  backlogReadAgoMs?: number | null;
  natsConnected?: boolean | null;
}

/** What the controller saw of one relay pod; times are ISO-8601 strings. */
export interface ObservedPod {
  name: string;
  uid: string;
  ip?: string;
  ready: boolean;
  /** When the pod's Ready condition last turned True / False (its lastTransitionTime). */
  readySince?: string;
  notReadySince?: string;
  /** metadata.deletionTimestamp is set. */
  deleting: boolean;
  createdAt: string;
  /** The pod's annotations (only those the operator keeps are looked at). */
  annotations?: Record<string, string>;
  /**
   * The relay container is down after exiting with the configuration status (2: a bad variable, a stream that
   * does not fit), with the line it wrote last (its termination message).
   */
  configurationExit?: { exitCode: number; message: string };
  /** undefined: not probed; null: the probe failed (no answer, timeout, non-2xx or a body of another shape). */
  report?: RelayPodReport | null;
}

/** A Job that changes the schema's partition count (partition-job.ts), as the controller saw it. */
export interface ObservedPartitionJob {
  name: string;
  /** From the name's suffix: the latest is the one that counts. */
  sequence: number;
  /** The count it applies. */
  target: number;
  state: 'running' | 'succeeded' | 'failed';
  /** Why it failed, as the Job controller says (its Failed condition). */
  message?: string;
}

/** The operator's own pods, from its configuration: a relay's NetworkPolicy lets them in. */
export interface OperatorPods {
  namespace: string;
  labels: Record<string, string>;
}

export interface ObservedState {
  relay: OutboxRelayResource;
  deployment?: V1Deployment;
  pods: ObservedPod[];
  /** This relay's partition-count Jobs; absent when the controller did not look (no spec.partitionCount). */
  partitionJobs?: ObservedPartitionJob[];
  /** The Secrets the relay's spec references that exist (secrets.ts, referencedSecrets). */
  secrets: ObservedSecret[];
  /** The operator's default relay image (its RELAY_IMAGE), used when spec.image is unset. */
  defaultImage: string;
  now: Date;
  /** Digest of the token in the relay's admin Secret (admin-token.ts); undefined while there is none. */
  adminTokenDigest?: string;
  /** Undefined: the operator does not know its pods (no POD_NAMESPACE), so it makes no NetworkPolicy. */
  operatorPods?: OperatorPods;
  /** A NetworkPolicy the operator made for this relay exists (to delete when spec.networkPolicy is off). */
  networkPolicyExists?: boolean;
}

/** An object to delete: one the operator made and the spec no longer wants. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

/**
 * StartPartitionChange: create the Job that changes the schema's partition count (writers pause while it drains),
 * once its start is on record in the status, as a failover is.
 * StepDown: ask a leader to hand its leases over (planned switchovers). EvictPod: the Eviction API, which honours
 * the PodDisruptionBudget, for a leader that makes no progress; `uid` so a replacement of the same name is spared.
 */
export type ReconcileAction =
  | { kind: 'StepDown'; pod: string; reason: string }
  | { kind: 'EvictPod'; pod: string; uid: string; reason: string }
  | { kind: 'StartPartitionChange'; job: V1Job; reason: string };

/** Annotations to set (a string) or remove (null) on a pod; the others are left as they are. */
export interface PodAnnotations {
  pod: string;
  annotations: Record<string, string | null>;
}

export interface ReconcileEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface ReconcileResult {
  /** Desired objects, to be server-side applied in this order (ServiceAccount before the Deployment using it). */
  objects: KubernetesObject[];
  /** Children to delete (absent: none). */
  deletions?: ObjectRef[];
  status: OutboxRelayStatus;
  actions: ReconcileAction[];
  /** Pod annotations to bring up to date (not disruptive: the pods keep running). */
  podAnnotations: PodAnnotations[];
  events: ReconcileEvent[];
  /** Re-run reconcile after this long even without a watch event (e.g. a failover delay running out). */
  requeueAfterMs?: number;
}

/** A field of an OutboxRelay's spec that breaks a rule, and why. */
export interface SpecIssue {
  /** Path from the resource root, as kubectl prints it (e.g. "spec.renewIntervalMs"). */
  field: string;
  message: string;
}
