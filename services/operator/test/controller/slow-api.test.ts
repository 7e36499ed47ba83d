/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import { ControllerHarness } from '../support/harness';
import { type ClientNodeGlobal } from '../support/kube';
import { waitFor } from '@outbox-relay/test-support';

const ns = 'slow-api';
const isWrite = (r: { verb: string }) => ['create', 'update', 'patch'].includes(r.verb);

/** The operator against an API server that answers every write late (latency injected by the fake). */
describe('a slow API server', () => {
  let h: ControllerHarness;
  afterEach(() => h.stop());

  test('writes slower than usual but within KUBE_API_TIMEOUT_MS: the relay still converges', async () => {
    h = await ControllerHarness.start(ns, { apiTimeoutMs: 2000 });
    const slow = h.api.slowRequests(isWrite, 300);
    h.createRelay('orders', { replicas: 2 });
    await waitFor('every child applied', () => h.child('Deployment', 'orders') && h.child('Service', 'orders') && h.child('PodDisruptionBudget', 'orders'), 20_000);
    await h.waitForStatus('orders', 'status observed', (s) => s.observedGeneration === 1 && s.conditions?.length, 20_000);
    expect(slow.delayed).toBeGreaterThanOrEqual(4);
    expect(h.api.requests.filter((r) => r.abandoned)).toEqual([]);
  });

  test('writes slower than KUBE_API_TIMEOUT_MS: the client gives up (nothing half-applied), and the operator converges once the API is fast again', async () => {
    h = await ControllerHarness.start(ns, { apiTimeoutMs: 300 });
    const slow = h.api.slowRequests((r) => isWrite(r) && r.resource === 'deployments', 2000);
    h.createRelay('orders', { replicas: 1 });
    await waitFor('a Deployment apply abandoned by the client', () => h.api.requests.some((r) => r.resource === 'deployments' && r.abandoned), 15_000);
    await waitFor('the failed reconcile counted', async () => (await h.metrics.value(h.metrics.reconciles, { result: 'error' })) > 0);
    expect(h.child('Deployment', 'orders')).toBeUndefined();

    slow.stop();
    await waitFor('the Deployment applied after the API recovered', () => h.child('Deployment', 'orders'), 20_000);
    const answered = h.api.requests.filter((r) => r.resource === 'deployments' && isWrite(r) && (r.status === 200 || r.status === 201));
    expect(answered.length).toBeGreaterThan(0);
    expect(slow.delayed).toBeGreaterThan(0);
  });
});
