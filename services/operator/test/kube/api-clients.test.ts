/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import fs from 'node:fs';
import path from 'node:path';
import { makeApiClient, makeObjectApiClient, withSignal } from '../../src/kube/api-clients';
import { k8s } from '../../src/kube/client-node';
import { FakeKubeApi } from '../support/fake-kube-api';
import { kubeConfigFor, type ClientNodeGlobal } from '../support/kube';
import { relayPod } from '../support/relays';

const ns = 'timeouts';

/**
 * client-node 2.x sends requests without a timeout: one the API server never answers (a half-open connection, a
 * hung endpoint) would hold a reconcile, or the operator's Lease renewal, forever. These requests hang on the fake
 * API server and must end by the client's own doing: the fake sees the client abandon them.
 */
describe('API clients: every request ends', () => {
  let api: FakeKubeApi;
  beforeEach(async () => {
    api = await FakeKubeApi.start();
    api.create(relayPod('orders', ns, 'orders-a', '10.0.0.1'));
  });
  afterEach(() => api.close());

  test('a request the API server never answers is abandoned by the client and fails', async () => {
    const core = makeApiClient(kubeConfigFor(api.url, ns), k8s.CoreV1Api, 200);
    const hold = api.holdRequests((r) => r.verb === 'get' && r.resource === 'pods');
    const failure = core.readNamespacedPod({ namespace: ns, name: 'orders-a' }).then(
      () => 'answered',
      (err: unknown) => (err as Error).name,
    );
    await hold.whenAbandoned(1);
    expect(await failure).toBe('TimeoutError');
    hold.release();
    // The timeout is per request: the same client's next request, answered, succeeds.
    await expect(core.readNamespacedPod({ namespace: ns, name: 'orders-a' })).resolves.toMatchObject({ metadata: { name: 'orders-a' } });
  });

  test('the generic object client (server-side apply of any kind, with its discovery requests) has the timeout too', async () => {
    const objects = makeObjectApiClient(kubeConfigFor(api.url, ns), 200);
    const hold = api.holdRequests(() => true);
    const failure = objects.read({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'orders-a', namespace: ns } }).then(
      () => 'answered',
      (err: unknown) => (err as Error).name,
    );
    await hold.whenAbandoned(1);
    expect(await failure).toBe('TimeoutError');
    hold.release();
  });

  test('a caller with a tighter deadline adds its own signal per call; the client timeout still applies to the rest', async () => {
    const core = makeApiClient(kubeConfigFor(api.url, ns), k8s.CoreV1Api, 60_000);
    const hold = api.holdRequests((r) => r.verb === 'get' && r.resource === 'pods');
    const deadline = new AbortController();
    const failure = core.readNamespacedPod({ namespace: ns, name: 'orders-a' }, withSignal(deadline.signal)).then(
      () => 'answered',
      (err: unknown) => (err as Error).name,
    );
    await hold.whenHeld(1);
    deadline.abort();
    await hold.whenAbandoned(1);
    expect(await failure).toBe('AbortError');
    hold.release();
  });

  test('no client is made anywhere else in the operator (each would be one without a timeout)', () => {
    const src = path.resolve(__dirname, '../../src');
    const files = (fs.readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    const offenders = files.filter((f) => {
      if (f === path.join('kube', 'api-clients.ts')) return false;
      const text = fs.readFileSync(path.join(src, f), 'utf8');
      return /\.makeApiClient\(|new k8s\.\w+Api\(/.test(text);
    });
    expect(offenders).toEqual([]);
  });
});
