import { outboxRelayCrd } from '../../src/api/crd';
import { FakeKubeApi, type JsonObject } from '../support/fake-kube-api';
import { relayManifest } from '../support/relays';

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
    expect(String(conflict.body.message)).toContain('conflict with "kubectl": .spec.replicas');
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
});
