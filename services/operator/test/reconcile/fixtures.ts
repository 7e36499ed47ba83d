import { withDefaults, type OutboxRelaySpecInput } from '../../src/api/defaults';
import type { OutboxRelayResource, OutboxRelayStatus } from '../../src/api/types';
import type { ObservedPod, ObservedSecret, ObservedState, RelayPodReport } from '../../src/reconcile/types';
import { referencedSecrets } from '../../src/reconcile/secrets';
import type { PodTemplateInputs } from '../../src/reconcile/pod-template';
import type { V1Deployment } from '../../src/api/k8s-types';

/** A fixed clock: every time in these tests is relative to it, so nothing depends on when the suite runs. */
export const NOW = new Date('2025-06-01T12:00:00.000Z');
export const secondsAgo = (s: number): string => new Date(NOW.getTime() - s * 1000).toISOString();
export const secondsLater = (s: number): Date => new Date(NOW.getTime() + s * 1000);

/** The operator's default relay image in these tests (its RELAY_IMAGE): not the built-in one, to tell them apart. */
export const OPERATOR_RELAY_IMAGE = 'registry.test/outbox-relay:operator';

/** What reconcile passes to the pod template when every Secret exists: for tests of the Deployment alone. */
export const TEMPLATE_INPUTS: PodTemplateInputs = { image: OPERATOR_RELAY_IMAGE, secretsHash: 'test-hash' };

export const BASE_SPEC: OutboxRelaySpecInput = {
  database: { secretRef: { name: 'orders-db', key: 'url' } },
  nats: { url: 'nats://nats.nats.svc:4222' },
};

export interface RelayOptions {
  name?: string;
  namespace?: string;
  generation?: number;
  spec?: OutboxRelaySpecInput;
  status?: OutboxRelayStatus;
  annotations?: Record<string, string>;
}

export function makeRelay(options: RelayOptions = {}): OutboxRelayResource {
  const spec = withDefaults({
    ...BASE_SPEC,
    ...options.spec,
    database: { ...BASE_SPEC.database, ...options.spec?.database },
    nats: { ...BASE_SPEC.nats, ...options.spec?.nats },
  });
  const relay: OutboxRelayResource = {
    apiVersion: 'outbox-relay.dev/v1alpha1',
    kind: 'OutboxRelay',
    metadata: {
      name: options.name ?? 'orders',
      namespace: options.namespace ?? 'shop',
      uid: '6f1c2d3e-0000-4000-8000-000000000001',
      generation: options.generation ?? 1,
      ...(options.annotations ? { annotations: options.annotations } : {}),
    },
    spec,
  };
  if (options.status) relay.status = options.status;
  return relay;
}

/**
 * `partitions` maps each partition this pod leads to its epoch; the others are listed as not led. A led partition
 * reports healthy progress (a long term, a recent renewal and publish, nothing pending).
 */
export function report(pod: string, partitions: Record<number, number> = {}, total = 1): RelayPodReport {
  const list = Array.from({ length: total }, (_, partition) => {
    const epoch = partitions[partition];
    return epoch === undefined
      ? { partition, leading: false, epoch: null, pending: 0, oldestPendingAgeMs: 0 }
      : { partition, leading: true, epoch, leadingForMs: 600_000, renewedAgoMs: 100, publishedAgoMs: 200, pending: 0, oldestPendingAgeMs: 0 };
  });
  return { instanceId: pod, leading: list.some((p) => p.leading), partitions: list, backlogReadAgoMs: 500, natsConnected: true };
}

/**
 * The report of a leader that renews its lease but has published nothing for `quietS` seconds while `pending`
 * events wait, the oldest as long: evidence of a stall once that exceeds the window.
 */
export function stalledReport(pod: string, epoch = 7, options: { pending?: number; quietS?: number; partitions?: Record<number, number>; total?: number } = {}): RelayPodReport {
  const { pending = 40, quietS = 60 } = options;
  const base = report(pod, options.partitions ?? { 0: epoch }, options.total ?? 1);
  return {
    ...base,
    partitions: base.partitions.map((p) =>
      p.leading ? { ...p, leadingForMs: quietS * 1000 + 30_000, publishedAgoMs: quietS * 1000, pending, oldestPendingAgeMs: quietS * 1000 } : p,
    ),
  };
}

export function makePod(name: string, overrides: Partial<ObservedPod> = {}): ObservedPod {
  return {
    name,
    uid: `uid-${name}`,
    ip: '10.0.0.1',
    ready: true,
    readySince: secondsAgo(600),
    deleting: false,
    createdAt: secondsAgo(900),
    report: report(name),
    ...overrides,
  };
}

export const leaderPod = (name: string, epoch = 7, overrides: Partial<ObservedPod> = {}): ObservedPod =>
  makePod(name, { report: report(name, { 0: epoch }), ...overrides });

/** A Deployment as the API server would return it after the operator applied it, rolled out. */
export function rolledOutDeployment(replicas: number): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'orders', namespace: 'shop', generation: 1 },
    spec: { replicas, selector: {}, template: {} },
    status: { observedGeneration: 1, replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas },
  };
}

/** Every Secret the relay references, each with every key it reads (envFrom ones with one `FROM_ENV` key). */
export function presentSecrets(relay: OutboxRelayResource, value = 'c2VjcmV0'): ObservedSecret[] {
  const byName = new Map<string, Record<string, string>>();
  for (const ref of referencedSecrets(withDefaults(relay.spec))) {
    const data = byName.get(ref.name) ?? {};
    for (const key of ref.keys === 'all' ? ['FROM_ENV'] : ref.keys) data[key] = value;
    byName.set(ref.name, data);
  }
  return [...byName].map(([name, data]) => ({ name, data }));
}

/**
 * deployment: null means none exists yet; left out, a rolled-out one matching spec.replicas. secrets: left out,
 * every referenced Secret exists with the keys read.
 */
export function observe(
  relay: OutboxRelayResource,
  pods: ObservedPod[],
  options: { deployment?: V1Deployment | null; now?: Date; secrets?: ObservedSecret[] } = {},
): ObservedState {
  const state: ObservedState = {
    relay,
    pods,
    secrets: options.secrets ?? presentSecrets(relay),
    defaultImage: OPERATOR_RELAY_IMAGE,
    now: options.now ?? NOW,
  };
  const deployment = options.deployment === undefined ? rolledOutDeployment(relay.spec.replicas) : options.deployment;
  if (deployment) state.deployment = deployment;
  return state;
}
