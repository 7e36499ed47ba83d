/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import type { JsonObject } from '../support/fake-kube-api';
import { ControllerHarness } from '../support/harness';
import type { ClientNodeGlobal } from '../support/kube';
import { waitFor } from '@outbox-relay/test-support';

const ns = 'shop';
const operatorPods = { namespace: 'outbox-relay-system', labels: { 'app.kubernetes.io/name': 'outbox-relay-operator' } };
const peersOf = (policy: JsonObject | undefined) => (policy?.spec as { ingress: Array<{ from: JsonObject[] }> } | undefined)?.ingress[0]?.from;

describe('spec.networkPolicy on the fake API server', () => {
  let h: ControllerHarness;
  afterEach(() => h.stop());

  test('turned on, the policy lets in the operator and metricsFrom; edited, it follows; turned off, it is deleted', async () => {
    h = await ControllerHarness.start(ns, { operatorPods });
    const prometheus = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } };
    const relay = h.createRelay('orders', { networkPolicy: { enabled: true, metricsFrom: [prometheus] } });
    const policy = await waitFor('the NetworkPolicy', () => h.child('NetworkPolicy', 'orders'));
    expect((policy.metadata as JsonObject).ownerReferences).toMatchObject([{ kind: 'OutboxRelay', uid: (relay.metadata as JsonObject).uid }]);
    expect(peersOf(policy)).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'outbox-relay-system' } }, podSelector: { matchLabels: operatorPods.labels } },
      prometheus,
    ]);

    h.editSpec('orders', (spec) => ((spec.networkPolicy as JsonObject).metricsFrom = []));
    await waitFor('metricsFrom emptied', () => peersOf(h.child('NetworkPolicy', 'orders'))?.length === 1);

    h.editSpec('orders', (spec) => ((spec.networkPolicy as JsonObject).enabled = false));
    await waitFor('the NetworkPolicy deleted', () => !h.child('NetworkPolicy', 'orders'));
    await h.reconciled(2);
    expect(h.child('NetworkPolicy', 'orders')).toBeUndefined();
    // Deleted once: with no policy left, nothing more is asked of the API.
    expect(h.api.requests.filter((r) => r.resource === 'networkpolicies' && r.verb === 'delete').map((r) => r.status)).toEqual([200]);
  });

  test('without the operator\'s own namespace no policy is made, and a Warning says why', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders', { networkPolicy: { enabled: true } });
    await waitFor('the Deployment', () => h.child('Deployment', 'orders'));
    const event = await waitFor('a NetworkPolicyNotCreated event', () => h.events('NetworkPolicyNotCreated')[0]);
    expect(event.message).toContain('POD_NAMESPACE');
    expect(h.child('NetworkPolicy', 'orders')).toBeUndefined();
  });
});
