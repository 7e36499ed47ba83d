import type { KubernetesObject, V1Deployment } from '../api/k8s-types';
import type { OutboxRelayResource, OutboxRelayStatus } from '../api/types';

/** Body of the relay's `GET /status` (services/relay health server). */
export interface RelayPodReport {
  instanceId: string;
  leading: boolean;
  partitions: Array<{ partition: number; leading: boolean; epoch: number | null }>;
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
  /** undefined: not probed; null: the probe failed (no answer, timeout, non-2xx or a body of another shape). */
  report?: RelayPodReport | null;
}

export interface ObservedState {
  relay: OutboxRelayResource;
  deployment?: V1Deployment;
  pods: ObservedPod[];
  now: Date;
}

export type ReconcileAction =
  | { kind: 'StepDown'; pod: string; reason: string }
  | { kind: 'DeletePod'; pod: string; reason: string };

export interface ReconcileEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface ReconcileResult {
  /** Desired objects, to be server-side applied in this order (ServiceAccount before the Deployment using it). */
  objects: KubernetesObject[];
  status: OutboxRelayStatus;
  actions: ReconcileAction[];
  events: ReconcileEvent[];
  /** Re-run reconcile after this long even without a watch event (e.g. a failover delay running out). */
  requeueAfterMs?: number;
}
