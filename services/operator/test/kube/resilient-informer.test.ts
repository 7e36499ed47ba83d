/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import { k8s, type V1Pod } from '../../src/kube/client-node';
import { ResilientInformer, type InformerEventType } from '../../src/kube/resilient-informer';
import { podSource } from '../../src/kube/sources';
import { FakeKubeApi } from '../support/fake-kube-api';
import { kubeConfigFor, type ClientNodeGlobal } from '../support/kube';
import { waitFor } from '@outbox-relay/test-support';
import { testLogger } from '../support/logger';
import { relayPod } from '../support/relays';

const ns = 'informer';

describe('ResilientInformer', () => {
  let api: FakeKubeApi;
  let informer: ResilientInformer<V1Pod>;
  let seen: Array<{ type: InformerEventType; name: string }>;
  let restarts: string[];

  const sawEvent = (type: InformerEventType, name: string) => seen.some((e) => e.type === type && e.name === name);

  async function startInformer(relistMs = 60_000): Promise<void> {
    const kc = kubeConfigFor(api.url, ns);
    informer = new ResilientInformer<V1Pod>({
      kubeConfig: kc,
      source: podSource(kc, ns),
      logger: testLogger,
      backoff: { minMs: 20, maxMs: 200 },
      relistMs,
      onRestart: (reason) => restarts.push(reason),
    });
    informer.on((type, pod) => seen.push({ type, name: pod.metadata?.name ?? '' }));
    informer.start();
    await informer.whenSynced();
    await waitFor('the watch to open', () => api.activeWatches() > 0);
  }

  beforeEach(async () => {
    api = await FakeKubeApi.start();
    seen = [];
    restarts = [];
  });
  afterEach(async () => {
    await informer?.stop();
    await api.close();
  });

  test('lists what exists, then delivers watch events, keeping only selected objects', async () => {
    api.create(relayPod('orders', ns, 'orders-a', '10.0.0.1'));
    api.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unrelated', namespace: ns, labels: { app: 'other' } } });
    await startInformer();
    expect(informer.list().map((p) => p.metadata?.name)).toEqual(['orders-a']);

    api.create(relayPod('orders', ns, 'orders-b', '10.0.0.2'));
    await waitFor('orders-b added', () => sawEvent('add', 'orders-b'));
    // A running pod is first Terminating (an update), and goes once the kubelet is done.
    api.delete('v1', 'Pod', ns, 'orders-a');
    await waitFor('orders-a seen Terminating', () => informer.get('orders-a', ns)?.metadata?.deletionTimestamp);
    expect(sawEvent('delete', 'orders-a')).toBe(false);
    api.finishTermination(ns, 'orders-a');
    await waitFor('orders-a deleted', () => sawEvent('delete', 'orders-a'));
    expect(informer.get('orders-b', ns)?.status?.podIP).toBe('10.0.0.2');
    expect(informer.get('orders-a', ns)).toBeUndefined();
  });

  test('recovers from a reset watch and failing requests, where client-node alone stays stopped', async () => {
    await startInformer();
    // A bare client-node informer on the same fake, as the witness of what the wrapper adds.
    const kc = kubeConfigFor(api.url, ns);
    const source = podSource(kc, ns);
    const bare = k8s.makeInformer<V1Pod>(kc, source.path, () => source.list(), source.labelSelector);
    const bareErrors: unknown[] = [];
    bare.on('error', (err: unknown) => bareErrors.push(err));
    await bare.start();
    await waitFor('both watches open', () => api.activeWatches() === 2);

    api.failNext(4, { status: 500, match: (r) => r.resource === 'pods' });
    api.dropWatches('reset');
    api.create(relayPod('orders', ns, 'orders-late', '10.0.0.9'));

    await waitFor('the wrapper to see the pod created while it was down', () => sawEvent('add', 'orders-late'));
    expect(restarts).toContain('error');
    expect(api.requests.filter((r) => r.status === 500).length).toBeGreaterThan(0);
    expect(bareErrors.length).toBeGreaterThan(0);
    expect(bare.get('orders-late', ns)).toBeUndefined();
    await bare.stop();
  });

  test.each(['event', 'status'] as const)(
    'relists after 410 Gone (%s form) and reports what was deleted meanwhile',
    async (form) => {
      api.watchExpiry = form;
      api.create(relayPod('orders', ns, 'orders-a', '10.0.0.1'));
      api.create(relayPod('orders', ns, 'orders-b', '10.0.0.2'));
      await startInformer();
      const listsBefore = api.requests.filter((r) => r.verb === 'list').length;

      api.muteWatches();
      api.delete('v1', 'Pod', ns, 'orders-a', { gracePeriodSeconds: 0 });
      api.compact();
      api.dropWatches('close');

      await waitFor('orders-a reported deleted', () => sawEvent('delete', 'orders-a'));
      expect(api.requests.filter((r) => r.verb === 'list').length).toBeGreaterThan(listsBefore);
      expect(informer.list().map((p) => p.metadata?.name)).toEqual(['orders-b']);
    },
  );

  test('a periodic relist repairs a watch that silently stopped delivering', async () => {
    await startInformer(300);
    api.muteWatches();
    api.create(relayPod('orders', ns, 'orders-quiet', '10.0.0.3'));
    await waitFor('the relist to find orders-quiet', () => informer.get('orders-quiet', ns));
    expect(sawEvent('add', 'orders-quiet')).toBe(true);
    expect(restarts).toContain('relist');
  });

  test('stop closes the watch and nothing restarts it', async () => {
    await startInformer();
    await informer.stop();
    await waitFor('the watch to close', () => api.activeWatches() === 0);
    const requests = api.requests.length;
    api.create(relayPod('orders', ns, 'orders-after', '10.0.0.4'));
    // The fake answers at once; give a restart every chance (several backoff periods) to show up.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(api.requests.length).toBe(requests);
    expect(sawEvent('add', 'orders-after')).toBe(false);
  });
});
