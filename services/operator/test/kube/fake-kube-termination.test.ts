import { FakeKubeApi, type JsonObject } from '../support/fake-kube-api';
import { relayPod } from '../support/relays';
import { waitFor } from '@outbox-relay/test-support';

/** Deletion as the real API server does it: pods are Terminating for their grace period, finalizers hold objects. */
describe('FakeKubeApi deletion', () => {
  let api: FakeKubeApi;
  const ns = 'term';
  const pods = `/api/v1/namespaces/${ns}/pods`;
  const meta = (o: JsonObject | undefined) => o?.metadata as { deletionTimestamp?: string; deletionGracePeriodSeconds?: number; generation?: number } | undefined;
  const del = async (path: string, body?: JsonObject) => {
    const res = await fetch(api.url + path, { method: 'DELETE', headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { status: res.status, body: (await res.json()) as JsonObject };
  };
  /** Watch events of pods as they arrive, from a raw watch. */
  const watchPods = async () => {
    const events: Array<{ type: string; name: string; deleting: boolean }> = [];
    const controller = new AbortController();
    const res = await fetch(`${api.url}${pods}?watch=true&resourceVersion=${api.resourceVersion()}`, { signal: controller.signal });
    const reader = res.body!.getReader();
    let buffer = '';
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += new TextDecoder().decode(value);
          const lines = buffer.split('\n');
          buffer = lines.pop() ?? '';
          for (const line of lines.filter(Boolean)) {
            const e = JSON.parse(line) as { type: string; object: JsonObject };
            events.push({ type: e.type, name: String((e.object.metadata as JsonObject).name), deleting: !!meta(e.object)?.deletionTimestamp });
          }
        }
      } catch {
        // aborted
      }
    })();
    return { events, stop: () => controller.abort() };
  };

  beforeEach(async () => {
    api = await FakeKubeApi.start();
  });
  afterEach(() => api.close());

  test('a running pod deleted is Terminating (MODIFIED) until the kubelet is done (DELETED)', async () => {
    api.create(relayPod('r', ns, 'a', '10.0.0.1'));
    const watch = await watchPods();
    const before = Date.now();
    const res = await del(`${pods}/a`);
    expect(res.status).toBe(200);
    expect(meta(res.body)).toMatchObject({ deletionGracePeriodSeconds: 30, generation: 2 });
    // deletionTimestamp is when the grace period ends (whole seconds).
    const deadline = Date.parse(meta(res.body)!.deletionTimestamp!);
    expect(deadline).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 29_000);
    await waitFor('the MODIFIED event', () => watch.events.length === 1);
    expect(watch.events).toEqual([{ type: 'MODIFIED', name: 'a', deleting: true }]);
    // A second delete changes nothing; the pod is still there.
    expect((await del(`${pods}/a`)).status).toBe(200);
    expect(meta(api.get('v1', 'Pod', ns, 'a'))?.deletionTimestamp).toBe(meta(res.body)!.deletionTimestamp);

    api.finishTermination(ns, 'a');
    await waitFor('the DELETED event', () => watch.events.length === 2);
    expect(watch.events[1]).toEqual({ type: 'DELETED', name: 'a', deleting: true });
    expect(api.get('v1', 'Pod', ns, 'a')).toBeUndefined();
    watch.stop();
  });

  test("the grace period: the request's gracePeriodSeconds, else the pod's terminationGracePeriodSeconds; 0 deletes at once", async () => {
    const pod = relayPod('r', ns, 'a', '10.0.0.1');
    (pod.spec as JsonObject).terminationGracePeriodSeconds = 45;
    api.create(pod);
    api.create(relayPod('r', ns, 'b', '10.0.0.2'));
    api.create(relayPod('r', ns, 'c', '10.0.0.3'));
    expect(meta((await del(`${pods}/a`)).body)?.deletionGracePeriodSeconds).toBe(45);
    expect(meta((await del(`${pods}/b`, { gracePeriodSeconds: 5 })).body)?.deletionGracePeriodSeconds).toBe(5);
    // A shorter grace period shortens a deletion in progress.
    expect(meta((await del(`${pods}/a`, { gracePeriodSeconds: 10 })).body)?.deletionGracePeriodSeconds).toBe(10);
    await del(`${pods}/c`, { gracePeriodSeconds: 0 });
    expect(api.get('v1', 'Pod', ns, 'c')).toBeUndefined();
  });

  test('a pod never scheduled (no nodeName), or finished, goes at once', async () => {
    const unscheduled = relayPod('r', ns, 'a', '10.0.0.1');
    delete (unscheduled.spec as JsonObject).nodeName;
    api.create(unscheduled);
    const finished = relayPod('r', ns, 'b', '10.0.0.2');
    (finished.status as JsonObject).phase = 'Succeeded';
    api.create(finished);
    await del(`${pods}/a`);
    await del(`${pods}/b`);
    expect(api.list('v1', 'Pod', ns)).toEqual([]);
  });

  test('with finishTerminationsAfterGracePeriod the kubelet ends Terminating pods when their grace period is over', async () => {
    api.finishTerminationsAfterGracePeriod(10);
    api.create(relayPod('r', ns, 'a', '10.0.0.1'));
    await del(`${pods}/a`, { gracePeriodSeconds: 3 });
    expect(meta(api.get('v1', 'Pod', ns, 'a'))?.deletionTimestamp).toBeDefined();
    await waitFor('the pod gone after 3 x 10 ms', () => api.get('v1', 'Pod', ns, 'a') === undefined);
  });

  test('an object with finalizers stays, with a deletionTimestamp, until they are removed; none may be added meanwhile', async () => {
    api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: ns, finalizers: ['example.dev/cleanup'] } });
    const deleted = await del(`/api/v1/namespaces/${ns}/secrets/s`);
    expect(meta(deleted.body)).toMatchObject({ deletionTimestamp: expect.any(String), deletionGracePeriodSeconds: 0 });
    expect(() =>
      api.update('v1', 'Secret', ns, 's', (o) => ((o.metadata as JsonObject).finalizers = ['example.dev/cleanup', 'example.dev/more'])),
    ).toThrow(/no new finalizers can be added/);
    expect(api.get('v1', 'Secret', ns, 's')).toBeDefined();
    api.update('v1', 'Secret', ns, 's', (o) => ((o.metadata as JsonObject).finalizers = []));
    expect(api.get('v1', 'Secret', ns, 's')).toBeUndefined();
  });

  test("the garbage collector deletes an owner's pods like any client: they are Terminating", () => {
    const owner = api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'owner', namespace: ns } });
    const pod = relayPod('r', ns, 'a', '10.0.0.1');
    (pod.metadata as JsonObject).ownerReferences = [{ apiVersion: 'v1', kind: 'Secret', name: 'owner', uid: String((owner.metadata as JsonObject).uid) }];
    api.create(pod);
    api.delete('v1', 'Secret', ns, 'owner');
    expect(meta(api.get('v1', 'Pod', ns, 'a'))?.deletionTimestamp).toBeDefined();
  });
});
