import type { OperatorConfig } from '../../src/config';
import { OperatorMetrics } from '../../src/metrics';
import { Operator } from '../../src/operator';
import { HttpPodProber, type PodProber } from '../../src/prober';
import type { FakeKubeApi } from './fake-kube-api';
import type { FakeRelays } from './fake-relays';
import { kubeConfigFor } from './kube';
import { testLogger } from './logger';

export const OPERATOR_NAMESPACE = 'outbox-relay-system';
/** Long enough that a hand-over faster than it can only come from the leader releasing the Lease. */
export const LEASE_MS = 5000;

/** One operator replica with leader election, as deploy/operator.yaml runs it, on test timings. */
export function operatorReplica(
  api: FakeKubeApi,
  relays: FakeRelays,
  identity: string,
  options: {
    watchNamespace?: string;
    onLeadershipLost?: () => void;
    onStopOverdue?: () => void;
    prober?: PodProber;
    leaseDurationMs?: number;
  } = {},
): { operator: Operator; metrics: OperatorMetrics } {
  const config: OperatorConfig = {
    ...(options.watchNamespace ? { watchNamespace: options.watchNamespace } : {}),
    identity,
    leaderElection: {
      namespace: OPERATOR_NAMESPACE,
      leaseName: 'outbox-relay-operator',
      leaseDurationMs: options.leaseDurationMs ?? LEASE_MS,
      renewDeadlineMs: 600,
      retryPeriodMs: 100,
    },
    httpPort: 0,
    logLevel: 'silent',
    resyncMs: 60_000,
    relistMs: 60_000,
    workers: 2,
    // As deploy/operator.yaml's pods (POD_NAMESPACE and the default OPERATOR_POD_LABELS).
    operatorPods: { namespace: OPERATOR_NAMESPACE, labels: { 'app.kubernetes.io/name': 'outbox-relay-operator', 'app.kubernetes.io/component': 'operator' } },
    probeTimeoutMs: 300,
    relayImage: 'registry.test/outbox-relay:from-operator-config',
    apiTimeoutMs: 2000,
  };
  const metrics = new OperatorMetrics();
  const operator = new Operator({
    config,
    kubeConfig: kubeConfigFor(api.url),
    logger: testLogger,
    metrics,
    prober: options.prober ?? new HttpPodProber({ timeoutMs: 300, baseUrl: relays.baseUrl }),
    informerBackoff: { minMs: 20, maxMs: 200 },
    retry: { minMs: 20, maxMs: 500 },
    ...(options.onLeadershipLost ? { onLeadershipLost: options.onLeadershipLost } : {}),
    ...(options.onStopOverdue ? { onStopOverdue: options.onStopOverdue } : {}),
  });
  return { operator, metrics };
}
