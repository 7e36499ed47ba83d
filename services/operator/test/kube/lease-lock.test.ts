/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import { KubeLeaseLock, type LeaseRecord } from '../../src/kube/lease-lock';
import { FakeKubeApi, type JsonObject } from '../support/fake-kube-api';
import { kubeConfigFor, type ClientNodeGlobal } from '../support/kube';

const ns = 'lease-lock';
const record = (holder: string, transitions = 0): LeaseRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTime: '2025-01-02T03:04:05.678Z',
  renewTime: '2025-01-02T03:04:06.789Z',
  leaseTransitions: transitions,
});

describe('KubeLeaseLock', () => {
  let api: FakeKubeApi;
  let lock: KubeLeaseLock;
  beforeAll(async () => {
    api = await FakeKubeApi.start();
    lock = new KubeLeaseLock(kubeConfigFor(api.url, ns), ns, 'operator');
  });
  afterAll(() => api.close());

  test('reads nothing before the Lease exists, then what was written, with MicroTime timestamps', async () => {
    await expect(lock.get()).resolves.toBeUndefined();
    await expect(lock.create(record('pod-a'))).resolves.toBe(true);
    const stored = api.get('coordination.k8s.io/v1', 'Lease', ns, 'operator')!;
    // Six fractional digits, as the API server requires for MicroTime.
    expect((stored.spec as JsonObject).renewTime).toBe('2025-01-02T03:04:06.789000Z');
    const read = await lock.get();
    expect(read?.record).toMatchObject({ holderIdentity: 'pod-a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(Date.parse(read!.record.renewTime!)).toBe(Date.parse('2025-01-02T03:04:06.789Z'));
  });

  test('a second create loses, and an update based on an old resourceVersion loses', async () => {
    await expect(lock.create(record('pod-b'))).resolves.toBe(false);
    const read = (await lock.get())!;
    await expect(lock.update(record('pod-b', 1), read.resourceVersion)).resolves.toBe(true);
    await expect(lock.update(record('pod-c', 2), read.resourceVersion)).resolves.toBe(false);
    expect((await lock.get())?.record.holderIdentity).toBe('pod-b');
  });
});
