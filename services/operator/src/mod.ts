// Public entry of @outbox-relay/operator: the API types and CRD, the pure reconcile, and the runtime pieces.
export * from './api';
export { reconcile } from './reconcile';
export type * from './reconcile/types';
export { OutboxRelayController, type ControllerOptions } from './controller';
export { Operator, type OperatorOptions, type OperatorHealth } from './operator';
export { loadConfig, operatorEnvSchema, type OperatorConfig, type LeaderElectionConfig } from './config';
export { OperatorLeaderElector, type OperatorLeaderElectorOptions, type LeadershipCallbacks } from './leader-election';
export { WorkQueue, type WorkQueueOptions } from './work-queue';
export { HttpPodProber, StepDownError, type PodProber, type ProbeTarget } from './prober';
export { OperatorMetrics } from './metrics';
export { createOperatorHttp } from './operator-http';
export { OperatorError, KubeApiError } from './errors';
export { KubeClient, type RelayCluster } from './kube/kube-client';
export { KubeLeaseLock, type LeaseLock, type LeaseRecord } from './kube/lease-lock';
export { ResilientInformer, type ResilientInformerOptions } from './kube/resilient-informer';
export { EventRecorder } from './kube/event-recorder';
