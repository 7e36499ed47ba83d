import { outboxRelayCrd } from '../../src/api/crd';
import { FakeKubeApi, type JsonObject } from '../support/fake-kube-api';
import { relayManifest, relayPod, setReady } from '../support/relays';

/** The fake answers the way the real API server does where the operator's correctness depends on it. */
describe('FakeKubeApi', () => {
  let api: FakeKubeApi;
  const base = '/apis/outbox-relay.dev/v1alpha1/namespaces/fake/outboxrelays';
  const call = async (method: string, path: string, body?: unknown, contentType = 'application/json') => {
    const res = await fetch(api.url + path, {
      method,
      headers: { 'content-type': contentType },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as JsonObject };
  };
  const meta = (o: JsonObject) => o.metadata as { generation: number; resourceVersion: string };

  beforeEach(async () => {
    api = await FakeKubeApi.start({ crds: [outboxRelayCrd] });
    api.create(relayManifest('r', 'fake', { replicas: 1 }), 'kubectl');
  });
  afterEach(() => api.close());

  test('field selectors: metadata.name/namespace everywhere, type on Secrets only; any other field label is a 400', async () => {
    const secret = (name: string, type: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'fake' }, type, data: {} });
    api.create(secret('db', 'Opaque'), 'kubectl');
    api.create(secret('sh.helm.release.v1.x.v1', 'helm.sh/release.v1'), 'helm');
    const names = (body: JsonObject) => (body.items as JsonObject[]).map((o) => (o.metadata as { name: string }).name).sort();
    const kept = await call('GET', `/api/v1/namespaces/fake/secrets?fieldSelector=${encodeURIComponent('type!=helm.sh/release.v1')}`);
    expect(names(kept.body)).toEqual(['db']);
    const only = await call('GET', `/api/v1/secrets?fieldSelector=${encodeURIComponent('type=helm.sh/release.v1,metadata.namespace=fake')}`);
    expect(names(only.body)).toEqual(['sh.helm.release.v1.x.v1']);
    expect((await call('GET', `/api/v1/namespaces/fake/pods?fieldSelector=${encodeURIComponent('type=x')}`)).status).toBe(400);
    expect((await call('GET', `/api/v1/namespaces/fake/secrets?fieldSelector=${encodeURIComponent('data.x=1')}`)).status).toBe(400);
  });

  test('spec changes bump the generation; status writes and status sent to the main endpoint do not', async () => {
    const patched = await call('PATCH', `${base}/r`, { spec: { replicas: 2 }, status: { replicas: 9 } }, 'application/merge-patch+json');
    expect(patched.status).toBe(200);
    expect(meta(patched.body).generation).toBe(2);
    expect(patched.body.status).toBeUndefined();
    const status = await call('PATCH', `${base}/r/status`, { status: { replicas: 2 }, spec: { replicas: 7 } }, 'application/merge-patch+json');
    expect(meta(status.body).generation).toBe(2);
    expect(status.body).toMatchObject({ spec: { replicas: 2 }, status: { replicas: 2 } });
    expect(Number(meta(status.body).resourceVersion)).toBeGreaterThan(Number(meta(patched.body).resourceVersion));
  });

  test('server-side apply needs a field manager, and without force a field another manager set is a conflict', async () => {
    const body = { apiVersion: 'outbox-relay.dev/v1alpha1', kind: 'OutboxRelay', metadata: { name: 'r' }, spec: { replicas: 3 } };
    expect((await call('PATCH', `${base}/r`, body, 'application/apply-patch+yaml')).status).toBe(422);
    const conflict = await call('PATCH', `${base}/r?fieldManager=operator`, body, 'application/apply-patch+yaml');
    expect(conflict.status).toBe(409);
    expect(String(conflict.body.message)).toBe('Apply failed with 1 conflict: conflict with "kubectl" using outbox-relay.dev/v1alpha1: .spec.replicas');
    expect(conflict.body.details).toMatchObject({ causes: [{ type: 'FieldManagerConflict', field: '.spec.replicas' }] });
    const forced = await call('PATCH', `${base}/r?fieldManager=operator&force=true`, body, 'application/apply-patch+yaml');
    expect(forced.status).toBe(200);
    expect(forced.body.spec).toMatchObject({ replicas: 3 });
  });

  test('patch types the real server refuses are refused: strategic merge on a custom resource, JSON patch with an object', async () => {
    expect((await call('PATCH', `${base}/r`, { spec: {} }, 'application/strategic-merge-patch+json')).status).toBe(415);
    expect((await call('PATCH', `${base}/r`, { spec: {} }, 'application/json-patch+json')).status).toBe(400);
    const ops = await call('PATCH', `${base}/r`, [{ op: 'replace', path: '/spec/replicas', value: 4 }], 'application/json-patch+json');
    expect(ops.body.spec).toMatchObject({ replicas: 4 });
  });

  test('404 for a missing object, 409 for a duplicate create and for an update from a stale resourceVersion', async () => {
    expect((await call('GET', `${base}/missing`)).status).toBe(404);
    expect((await call('POST', base, relayManifest('r', 'fake'))).status).toBe(409);
    const current = (await call('GET', `${base}/r`)).body;
    const stale = { ...current, metadata: { ...(current.metadata as object), resourceVersion: '1' } };
    expect((await call('PUT', `${base}/r`, stale)).status).toBe(409);
    expect((await call('PUT', `${base}/r`, current)).status).toBe(200);
  });

  test('a watch from a compacted resourceVersion gets 410 Gone as an ERROR event', async () => {
    const rv = meta(api.get('outbox-relay.dev/v1alpha1', 'OutboxRelay', 'fake', 'r')!).resourceVersion;
    api.update('outbox-relay.dev/v1alpha1', 'OutboxRelay', 'fake', 'r', (o) => ((o.spec as JsonObject).replicas = 5));
    api.compact();
    const res = await fetch(`${api.url}${base}?watch=true&resourceVersion=${rv}`);
    expect(res.status).toBe(200);
    const event = JSON.parse((await res.text()).trim()) as { type: string; object: { code: number; reason: string } };
    expect(event).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } });
  });

  test('a status write through the status subresource from a stale resourceVersion is a 409 and changes nothing', async () => {
    const read = (await call('GET', `${base}/r`)).body;
    const first = await call('PUT', `${base}/r/status`, { ...read, status: { replicas: 1 } });
    expect(first.status).toBe(200);
    // A second writer that read the same version loses: its decision was made on what is no longer there.
    const second = await call('PUT', `${base}/r/status`, { ...read, status: { replicas: 5 } });
    expect(second).toMatchObject({ status: 409, body: { reason: 'Conflict' } });
    expect(api.get('outbox-relay.dev/v1alpha1', 'OutboxRelay', 'fake', 'r')?.status).toEqual({ replicas: 1 });
  });

  describe('eviction', () => {
    const pods = '/api/v1/namespaces/fake/pods';
    const evict = (name: string, body: JsonObject = {}) =>
      call('POST', `${pods}/${name}/eviction`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: 'fake' }, ...body });
    const pod = (name: string, ready: boolean) => {
      const p = relayPod('r', 'fake', name, '10.0.0.1');
      setReady(p, ready);
      api.create(p);
    };
    const budget = (spec: JsonObject) =>
      api.create({
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'r', namespace: 'fake' },
        spec: { selector: { matchLabels: { 'app.kubernetes.io/instance': 'r' } }, ...spec },
      });
    /** Still there and not being deleted (an evicted pod is Terminating: it has a deletionTimestamp). */
    const exists = (name: string) => {
      const pod = api.get('v1', 'Pod', 'fake', name);
      return pod !== undefined && !(pod.metadata as JsonObject).deletionTimestamp;
    };

    test('without a budget the pod is deleted; a missing pod is 404; a uid precondition that fails is 409', async () => {
      pod('a', true);
      expect((await evict('a', { deleteOptions: { preconditions: { uid: 'other' } } })).status).toBe(409);
      expect(exists('a')).toBe(true);
      expect((await evict('a')).status).toBe(201);
      expect(exists('a')).toBe(false);
      api.finishTermination('fake', 'a');
      expect((await evict('a')).status).toBe(404);
    });

    test('a budget not yet computed by the disruption controller refuses with 429', async () => {
      pod('a', true);
      budget({ maxUnavailable: 1 });
      const refused = await evict('a');
      expect(refused).toMatchObject({ status: 429, body: { reason: 'TooManyRequests', details: { causes: [{ reason: 'DisruptionBudget' }] } } });
      expect(exists('a')).toBe(true);
    });

    test('maxUnavailable 1: one healthy pod may go, which spends the budget; the next eviction is refused until it is recomputed', async () => {
      pod('a', true);
      pod('b', true);
      pod('c', true);
      budget({ maxUnavailable: 1 });
      api.updateDisruptionBudgets('fake');
      expect((await evict('a')).status).toBe(201);
      expect(exists('a')).toBe(false);
      expect(api.get('policy/v1', 'PodDisruptionBudget', 'fake', 'r')?.status).toMatchObject({ disruptionsAllowed: 0, disruptedPods: { a: expect.any(String) } });
      const refused = await evict('b');
      expect(refused.status).toBe(429);
      expect(String((refused.body.details as { causes: Array<{ message: string }> }).causes[0]?.message)).toContain('needs 2 healthy pods and has 3 currently');
      expect(exists('b')).toBe(true);
    });

    test('an unready pod may go while the healthy ones meet the budget, without spending a disruption', async () => {
      pod('a', true);
      pod('b', true);
      pod('c', false);
      budget({ minAvailable: 2 });
      api.updateDisruptionBudgets('fake');
      expect(api.get('policy/v1', 'PodDisruptionBudget', 'fake', 'r')?.status).toMatchObject({ currentHealthy: 2, desiredHealthy: 2, disruptionsAllowed: 0 });
      expect((await evict('a')).status).toBe(429);
      expect((await evict('c')).status).toBe(201);
      expect(exists('c')).toBe(false);
    });
  });

  describe('held requests', () => {
    test('are answered only once released, from the store as it is then', async () => {
      const hold = api.holdRequests((r) => r.verb === 'get' && r.resource === 'outboxrelays');
      const answer = call('GET', `${base}/r`);
      await hold.whenHeld(1);
      api.update('outbox-relay.dev/v1alpha1', 'OutboxRelay', 'fake', 'r', (o) => ((o.spec as JsonObject).replicas = 4));
      hold.release();
      expect((await answer).body.spec).toMatchObject({ replicas: 4 });
      // Released: later requests are answered at once.
      expect((await call('GET', `${base}/r`)).status).toBe(200);
    });

    test('a client that gives up on a held request is seen to abandon it', async () => {
      const hold = api.holdRequests((r) => r.verb === 'get');
      const gaveUp = fetch(`${api.url}${base}/r`, { signal: AbortSignal.timeout(100) }).catch((err: unknown) => (err as Error).name);
      await hold.whenAbandoned(1);
      expect(await gaveUp).toBe('TimeoutError');
      expect(api.requests.find((r) => r.verb === 'get')).toMatchObject({ abandoned: true, status: 0 });
    });
  });
});
