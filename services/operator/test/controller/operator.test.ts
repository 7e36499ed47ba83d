/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import { outboxRelayCrd } from '../../src/api/crd';
import type { Operator } from '../../src/operator';
import type { OperatorMetrics } from '../../src/metrics';
import { FakeKubeApi, type JsonObject } from '../support/fake-kube-api';
import { FakeRelays } from '../support/fake-relays';
import { type ClientNodeGlobal } from '../support/kube';
import { LEASE_MS, OPERATOR_NAMESPACE, operatorReplica } from '../support/operators';
import { relayDatabaseSecret, relayManifest, relayPod, setReady } from '../support/relays';
import type { PodProber } from '../../src/prober';
import { waitFor } from '@outbox-relay/test-support';

const ns = 'apps';
const reconciles = async (m: OperatorMetrics) =>
  (await m.value(m.reconciles, { result: 'success' })) + (await m.value(m.reconciles, { result: 'error' }));
const replicas = (api: FakeKubeApi) => (api.get('apps/v1', 'Deployment', ns, 'orders')?.spec as JsonObject | undefined)?.replicas;
const holder = (api: FakeKubeApi) =>
  (api.get('coordination.k8s.io/v1', 'Lease', OPERATOR_NAMESPACE, 'outbox-relay-operator')?.spec as JsonObject | undefined)?.holderIdentity;

describe('two operator replicas (Lease leader election)', () => {
  let api: FakeKubeApi;
  let relays: FakeRelays;
  const running: Operator[] = [];

  beforeEach(async () => {
    api = await FakeKubeApi.start({ crds: [outboxRelayCrd] });
    relays = new FakeRelays();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((o) => o.stop()));
    await relays.closeAll();
    await api.close();
  });

  test('only the leader reconciles; the standby takes over at once when the leader stops', async () => {
    const a = operatorReplica(api, relays, 'operator-a');
    running.push(a.operator);
    a.operator.start();
    await waitFor('a leads', () => a.operator.health().leader);
    const b = operatorReplica(api, relays, 'operator-b');
    running.push(b.operator);
    b.operator.start();

    api.create(relayDatabaseSecret(ns));
    api.create(relayManifest('orders', ns));
    await waitFor('the Deployment', () => replicas(api) === 2);
    await waitFor('a is ready', () => a.operator.health().ready);
    await waitFor('a counts its reconcile', async () => (await reconciles(a.metrics)) > 0);
    expect(await reconciles(b.metrics)).toBe(0);
    expect(b.operator.health()).toEqual({ live: true, ready: true, leader: false });
    // Relays, Deployments, pods, Secrets, NetworkPolicies, partition-count Jobs: the standby watches nothing.
    expect(api.activeWatches()).toBe(6);
    expect(await a.metrics.value(a.metrics.leader)).toBe(1);

    const stoppedAt = Date.now();
    await a.operator.stop();
    await waitFor('b leads', () => b.operator.health().leader);
    expect(Date.now() - stoppedAt).toBeLessThan(LEASE_MS);
    expect(holder(api)).toBe('operator-b');
    expect(await a.metrics.value(a.metrics.leader)).toBe(0);

    const before = await reconciles(a.metrics);
    api.update('outbox-relay.dev/v1alpha1', 'OutboxRelay', ns, 'orders', (r) => ((r.spec as JsonObject).replicas = 3));
    await waitFor('b applies the change', () => replicas(api) === 3);
    await waitFor('b counts its reconcile', async () => (await reconciles(b.metrics)) > 0);
    expect(await reconciles(a.metrics)).toBe(before);
  });

  test('a leader that loses the Lease stops reconciling and reports itself not live', async () => {
    let lost = 0;
    const a = operatorReplica(api, relays, 'operator-a', { onLeadershipLost: () => lost++ });
    running.push(a.operator);
    a.operator.start();
    api.create(relayDatabaseSecret(ns));
    api.create(relayManifest('orders', ns));
    await waitFor('the Deployment', () => replicas(api) === 2);

    api.failNext(1000, { status: 503, match: (r) => r.resource === 'leases' });
    await waitFor('leadership lost', () => lost === 1);
    expect(a.operator.health()).toMatchObject({ live: false, leader: false });
    await waitFor('its watches closed', () => api.activeWatches() === 0);
  });

  test('a leader whose renewals hang loses the Lease by the renew deadline; a controller that cannot stop before the Lease may pass is told to exit', async () => {
    // A probe that never ends keeps a reconcile, and so the controller's stop, from finishing.
    const probes: Array<() => void> = [];
    const stuck: PodProber = {
      status: () => new Promise((resolve) => probes.push(() => resolve(null))),
      stepDown: async () => undefined,
    };
    let overdue = 0;
    let lost = 0;
    const a = operatorReplica(api, relays, 'operator-a', {
      prober: stuck,
      leaseDurationMs: 1500,
      onStopOverdue: () => overdue++,
      onLeadershipLost: () => lost++,
    });
    running.push(a.operator);
    a.operator.start();
    api.create(relayDatabaseSecret(ns));
    api.create(relayManifest('orders', ns));
    const pod = relayPod('orders', ns, 'orders-a', '10.0.0.1');
    setReady(pod, true);
    api.create(pod);
    await waitFor('a reconcile stuck in its probe', () => probes.length > 0);

    const renewals = api.holdRequests((r) => r.resource === 'leases');
    await waitFor('told to exit', () => overdue === 1, 10_000);
    // The renewal was cut by the operator's deadline, not answered; the controller never finished stopping.
    await renewals.whenAbandoned(1);
    expect(lost).toBe(0);
    expect(a.operator.health()).toMatchObject({ live: false, leader: false });
    renewals.release();
    for (const unblock of probes) unblock();
  });
});
