/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import type { V1Pod } from '../../src/kube/client-node';
import { ResilientInformer } from '../../src/kube/resilient-informer';
import { podSource } from '../../src/kube/sources';
import { FakeKubeApi, type JsonObject } from '../support/fake-kube-api';
import { ControllerHarness } from '../support/harness';
import { kubeConfigFor, type ClientNodeGlobal } from '../support/kube';
import { testLogger } from '../support/logger';
import { relayPod } from '../support/relays';
import { waitFor } from '@outbox-relay/test-support';

const ns = 'watches';

/** A raw watch: the events it has received so far, and whether the server has ended it. */
async function rawWatch(api: FakeKubeApi, query: string) {
  const events: Array<{ type: string; object: JsonObject }> = [];
  const state = { ended: false, status: 0 };
  const controller = new AbortController();
  const res = await fetch(`${api.url}/api/v1/namespaces/${ns}/pods?watch=true&${query}`, { signal: controller.signal });
  state.status = res.status;
  void (async () => {
    const reader = res.body!.getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += new TextDecoder().decode(value);
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines.filter(Boolean)) events.push(JSON.parse(line) as { type: string; object: JsonObject });
      }
    } catch {
      // aborted by the test
    }
    state.ended = true;
  })();
  return { events, state, stop: () => controller.abort() };
}

describe('FakeKubeApi watches', () => {
  let api: FakeKubeApi;
  beforeEach(async () => {
    api = await FakeKubeApi.start();
  });
  afterEach(() => api.close());

  test('BOOKMARKs carry the current resourceVersion, only to watches that asked; a bookmark lets a watch resume after compaction', async () => {
    const since = api.resourceVersion();
    const asked = await rawWatch(api, `resourceVersion=${since}&allowWatchBookmarks=true`);
    const plain = await rawWatch(api, `resourceVersion=${since}`);
    await waitFor('both watches open', () => api.activeWatches() === 2);
    // Changes to other kinds move the resourceVersion on without any pod event.
    for (const name of ['s1', 's2', 's3']) api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns } });
    expect(api.sendBookmarks()).toBe(1);
    await waitFor('the bookmark', () => asked.events.length === 1);
    expect(asked.events[0]).toEqual({ type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: api.resourceVersion() } } });
    expect(plain.events).toEqual([]);

    api.compact();
    const bookmarked = String((asked.events[0]!.object.metadata as JsonObject).resourceVersion);
    const fromBookmark = await rawWatch(api, `resourceVersion=${bookmarked}`);
    const fromOld = await rawWatch(api, `resourceVersion=${since}`);
    await waitFor('the old one refused', () => fromOld.state.ended);
    expect(fromOld.events).toMatchObject([{ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } }]);
    expect(fromBookmark.state.ended).toBe(false);
    api.create(relayPod('r', ns, 'a', '10.0.0.1'));
    await waitFor('the resumed watch to see the pod', () => fromBookmark.events.length === 1);
    expect(fromBookmark.events[0]?.type).toBe('ADDED');
    for (const w of [asked, plain, fromBookmark]) w.stop();
  });

  test('closeWatches ends every watch cleanly; a watch with timeoutSeconds is ended by the server', async () => {
    const a = await rawWatch(api, `resourceVersion=${api.resourceVersion()}`);
    const timed = await rawWatch(api, `resourceVersion=${api.resourceVersion()}&timeoutSeconds=1`);
    await waitFor('both open', () => api.activeWatches() === 2);
    await waitFor('the timed watch ended by the server', () => timed.state.ended, 10_000);
    expect(a.state.ended).toBe(false);
    expect(api.closeWatches()).toBe(1);
    await waitFor('the other one ended', () => a.state.ended);
    expect(api.activeWatches()).toBe(0);
  });

  test("the operator's informer resumes after closed watches without relisting, and relists after 410 Gone", async () => {
    const kc = kubeConfigFor(api.url, ns);
    const informer = new ResilientInformer<V1Pod>({
      kubeConfig: kc,
      source: podSource(kc, ns),
      logger: testLogger,
      backoff: { minMs: 20, maxMs: 200 },
      relistMs: 600_000,
    });
    informer.start();
    await informer.whenSynced();
    const lists = () => api.requests.filter((r) => r.verb === 'list').length;
    const listed = lists();
    try {
      for (const pod of ['a', 'b', 'c']) {
        await waitFor('a watch open', () => api.activeWatches() === 1);
        api.closeWatches();
        api.create(relayPod('orders', ns, `orders-${pod}`, '10.0.0.1'));
        await waitFor(`orders-${pod} seen`, () => informer.get(`orders-${pod}`, ns), 10_000);
      }
      expect(lists()).toBe(listed);
      // Each watch resumed from the last resourceVersion the informer had seen.
      const resumed = api.requests.filter((r) => r.verb === 'watch').slice(1);
      expect(resumed.every((r) => Number(r.query.resourceVersion) > 0)).toBe(true);

      await waitFor('a watch open', () => api.activeWatches() === 1);
      api.muteWatches();
      api.delete('v1', 'Pod', ns, 'orders-a', { gracePeriodSeconds: 0 });
      api.compact();
      api.closeWatches();
      await waitFor('orders-a gone after the relist', () => !informer.get('orders-a', ns), 10_000);
      expect(lists()).toBeGreaterThan(listed);
      api.create(relayPod('orders', ns, 'orders-d', '10.0.0.4'));
      await waitFor('orders-d seen after the relist', () => informer.get('orders-d', ns), 10_000);
    } finally {
      await informer.stop();
    }
  });
});

describe('the operator with watches that the server closes and compacts', () => {
  let h: ControllerHarness;
  afterEach(() => h.stop());

  test('spec changes made after closed and expired watches still reach the Deployment', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders', { replicas: 1 });
    const replicas = () => (h.child('Deployment', 'orders')?.spec as { replicas?: number } | undefined)?.replicas;
    await waitFor('the Deployment', () => replicas() === 1);

    await waitFor('the watches open', () => h.api.activeWatches() > 0);
    h.api.closeWatches();
    h.editSpec('orders', (spec) => (spec.replicas = 2));
    await waitFor('replicas 2 after closed watches', () => replicas() === 2, 15_000);

    await waitFor('the watches open again', () => h.api.activeWatches() > 0);
    const lists = () => h.api.requests.filter((r) => r.verb === 'list').length;
    const listed = lists();
    h.api.compact();
    h.api.closeWatches();
    h.editSpec('orders', (spec) => (spec.replicas = 3));
    await waitFor('replicas 3 after a compaction (410 Gone)', () => replicas() === 3, 15_000);
    // The expired watches were answered 410 and the informers listed again.
    expect(lists()).toBeGreaterThan(listed);
  });
});
