import type { LogLevel } from '@outbox-relay/runtime';
import type {
  KubernetesObject,
  V1Affinity,
  V1EnvFromSource,
  V1EnvVar,
  V1LocalObjectReference,
  V1NetworkPolicyPeer,
  V1Toleration,
  V1TopologySpreadConstraint,
} from './k8s-types';
import type { NatsMessageHeaders, NatsStreamDiscard, NatsStreamManagement, NatsStreamStorage } from './limits';

/** Reference to one key of a Secret in the OutboxRelay's namespace. */
export interface SecretKeyRef {
  name: string;
  key: string;
}

export interface DatabaseSpec {
  /** Secret key holding the postgres:// connection URL (never inline: it carries a password). */
  secretRef: SecretKeyRef;
  /** Schema of the outbox tables. */
  schema: string;
  /** Standbys that must have flushed an event's commit before it is published (OUTBOX_CONFIRMING_STANDBYS); 0: off. */
  confirmingStandbys: number;
}

/** Limits of a stream the relay creates (OUTBOX_STREAM_*); absent ones are the server's defaults. 0 = no limit. */
export interface NatsStreamLimits {
  replicas?: number;
  storage?: NatsStreamStorage;
  maxAgeSeconds?: number;
  maxBytes?: number;
  maxMessages?: number;
  discard?: NatsStreamDiscard;
}

/**
 * TLS to NATS from one Secret (a kubernetes.io/tls Secret has ca.crt, tls.crt and tls.key), mounted read-only:
 * the CA that signed the servers' certificates and/or a client certificate with its key.
 */
export interface NatsTlsSpec {
  secretName: string;
  caKey?: string;
  certKey?: string;
  keyKey?: string;
}

export interface NatsSpec {
  url: string;
  /** Secret key holding a NATS .creds file; mounted read-only and passed as NATS_CREDS_FILE. */
  credentialsSecretRef?: SecretKeyRef;
  stream: string;
  subjectPrefix: string;
  /** JetStream duplicate window; must cover a successor's re-publish delay (>= 10 x lease). */
  duplicateWindowSeconds: number;
  /** The headers of each message: the relay's Outbox-* headers, CloudEvents ones, or both (OUTBOX_MESSAGE_HEADERS). */
  messageHeaders: NatsMessageHeaders;
  /** The CloudEvents source (OUTBOX_CLOUDEVENTS_SOURCE); unset: the relay's default, /outbox-relay/<schema>. */
  cloudEventsSource?: string;
  /** `create`: the relay creates its stream; `verify`: a platform team owns it, the relay only checks it (OUTBOX_STREAM_MANAGEMENT). */
  streamManagement: NatsStreamManagement;
  streamLimits?: NatsStreamLimits;
  tls?: NatsTlsSpec;
}

export interface ResourceRequirements {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

/**
 * An optional NetworkPolicy in front of the relay pods: ingress to their HTTP port only from the operator's pods and
 * `metricsFrom` (e.g. Prometheus); egress is left alone.
 */
export interface NetworkPolicySpec {
  enabled?: boolean;
  /** Peers (as in a NetworkPolicy's `from`) allowed to scrape /metrics and read /status. */
  metricsFrom?: V1NetworkPolicyPeer[];
}

/** spec.template.pod: additions to the relay pods, under their core/v1 names (schema-pod.ts). */
export interface RelayPodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  imagePullSecrets?: V1LocalObjectReference[];
  nodeSelector?: Record<string, string>;
  affinity?: V1Affinity;
  tolerations?: V1Toleration[];
  topologySpreadConstraints?: V1TopologySpreadConstraint[];
  priorityClassName?: string;
}

/** spec.template.container: additions to the relay container. */
export interface RelayContainerTemplate {
  env?: V1EnvVar[];
  envFrom?: V1EnvFromSource[];
}

export interface RelayTemplate {
  pod?: RelayPodTemplate;
  container?: RelayContainerTemplate;
}

/** Spec after the API server's defaulting (see defaults.ts for the same defaults applied in code). */
export interface OutboxRelaySpec {
  replicas: number;
  /** Unset: the operator's default relay image (its RELAY_IMAGE), so an operator upgrade moves the relays too. */
  image?: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  database: DatabaseSpec;
  nats: NatsSpec;
  /**
   * The outbox's partition count, when the operator is to keep it (a Job runs `outbox-migrate` on a change).
   * Unset: the count is the schema's, set by the application's migrations or `outboxctl migrate --partitions`.
   * Not `partitions`: that field of earlier versions did nothing and defaulted to 1, so objects stored then carry
   * a 1 nobody chose; read as this, it would have shrunk their schemas on upgrade.
   */
  partitionCount?: number;
  batchSize: number;
  /** Bytes of payloads and headers one read may return (OUTBOX_BATCH_MAX_BYTES). */
  batchMaxBytes: number;
  publishWindow: number;
  leaseDurationMs: number;
  renewIntervalMs: number;
  failoverDelaySeconds: number;
  resources?: ResourceRequirements;
  networkPolicy?: NetworkPolicySpec;
  template?: RelayTemplate;
  paused: boolean;
  logLevel: LogLevel;
}

export type ConditionType = 'Ready' | 'LeaderElected' | 'Progressing' | 'Degraded' | 'Paused' | 'PodsUnreachable' | 'PartitionCountApplied';
export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** A condition as the Kubernetes API conventions describe it (metav1.Condition). */
export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}

export interface PartitionLeader {
  partition: number;
  pod: string;
  epoch: number;
}

/** A relay pod whose `GET /status` has failed on every probe since `since`. */
export interface UnresponsivePod {
  pod: string;
  since: string;
}

export interface OutboxRelayStatus {
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  /** Label selector in string form, read by the scale subresource (and so by HPAs). */
  selector?: string;
  currentLeader?: string;
  leaderEpoch?: number;
  leaderSince?: string;
  /**
   * When the operator last decided to evict a leader's pod. Written (with a resourceVersion precondition) before
   * the eviction is attempted, so two operators that overlap cannot both act; the quiet period counts from it.
   */
  lastFailoverTime?: string;
  partitionLeaders?: PartitionLeader[];
  /** The partition count the relays follow (the schema's), when the pods that answered agree on it. */
  partitions?: number;
  /**
   * Pods whose `/status` probe has failed on every try since `since`: a probe failure leaves no trace in the pod
   * (unlike readiness), so the operator records it; PodsUnreachable reports the Ready ones among them.
   */
  unresponsivePods?: UnresponsivePod[];
  /** The relay image the operator last applied (spec.image, else its default). */
  image?: string;
  conditions?: Condition[];
}

/** metadata.name, namespace, uid and generation are set on every object the API server returns. */
export interface OutboxRelayResource extends KubernetesObject {
  spec: OutboxRelaySpec;
  status?: OutboxRelayStatus;
}
