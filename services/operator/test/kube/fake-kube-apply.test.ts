import { outboxRelayCrd } from '../../src/api/crd';
import { FakeKubeApi, type JsonObject } from '../support/fake-kube-api';
import { relayManifest } from '../support/relays';

/**
 * Server-side apply merges lists as the real API server does (structured-merge-diff): map lists item by item by
 * their keys, set lists value by value, atomic lists whole; each item is owned by its key.
 */
describe('FakeKubeApi server-side apply of lists', () => {
  let api: FakeKubeApi;
  const ns = 'apply';
  const deployments = `/apis/apps/v1/namespaces/${ns}/deployments`;
  const relays = `/apis/outbox-relay.dev/v1alpha1/namespaces/${ns}/outboxrelays`;

  const apply = async (path: string, body: JsonObject, manager: string, force = false) => {
    const res = await fetch(`${api.url}${path}?fieldManager=${manager}${force ? '&force=true' : ''}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/apply-patch+yaml' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as JsonObject };
  };
  const deployment = (containers: JsonObject[], extra: JsonObject = {}): JsonObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', namespace: ns },
    spec: {
      selector: { matchLabels: { app: 'd' } },
      template: { metadata: { labels: { app: 'd' } }, spec: { containers, ...extra } },
    },
  });
  const podSpec = () => ((api.get('apps/v1', 'Deployment', ns, 'd')!.spec as JsonObject).template as JsonObject).spec as JsonObject;
  const containers = () => podSpec().containers as Array<{ name: string; image?: string; env?: Array<{ name: string; value?: string }>; ports?: JsonObject[] }>;

  const widgetCrd = {
    spec: {
      group: 'example.dev',
      scope: 'Namespaced',
      names: { kind: 'Widget', plural: 'widgets' },
      versions: [
        {
          name: 'v1',
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  properties: {
                    plain: { type: 'array', items: { type: 'string' } },
                    tags: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };

  beforeEach(async () => {
    api = await FakeKubeApi.start({ crds: [outboxRelayCrd, widgetCrd] });
  });
  afterEach(() => api.close());

  test('containers merge by name: a sidecar another manager applied stays when the first applies again', async () => {
    expect((await apply(`${deployments}/d`, deployment([{ name: 'relay', image: 'relay:1' }]), 'operator')).status).toBe(201);
    expect((await apply(`${deployments}/d`, deployment([{ name: 'mesh', image: 'mesh:1' }]), 'mesh-injector')).status).toBe(200);
    expect(containers().map((c) => c.name)).toEqual(['relay', 'mesh']);
    // The operator applies its container again (a new image): the sidecar, which it never owned, stays.
    expect((await apply(`${deployments}/d`, deployment([{ name: 'relay', image: 'relay:2' }]), 'operator')).status).toBe(200);
    expect(containers()).toEqual([
      { name: 'relay', image: 'relay:2' },
      { name: 'mesh', image: 'mesh:1' },
    ]);
    expect(api.managedFields('apps/v1', 'Deployment', ns, 'd')['mesh-injector']).toContain('/spec/template/spec/containers/k:{"name":"mesh"}/image');
  });

  test('an item the applier owned and now leaves out is removed; an item another manager owns too stays', async () => {
    await apply(`${deployments}/d`, deployment([{ name: 'relay', image: 'r' }, { name: 'debug', image: 'busybox' }]), 'operator');
    await apply(`${deployments}/d`, deployment([{ name: 'relay', image: 'r' }]), 'operator');
    expect(containers().map((c) => c.name)).toEqual(['relay']);

    // Two managers apply the same env var: shared ownership; when one drops it, the other still holds it.
    const withEnv = (env: JsonObject[]) => deployment([{ name: 'relay', image: 'r', env }]);
    await apply(`${deployments}/d`, withEnv([{ name: 'A', value: '1' }, { name: 'B', value: '2' }]), 'operator');
    await apply(`${deployments}/d`, withEnv([{ name: 'B', value: '2' }]), 'platform');
    await apply(`${deployments}/d`, withEnv([{ name: 'A', value: '1' }]), 'operator');
    expect(containers()[0]?.env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
    ]);
    await apply(`${deployments}/d`, withEnv([]), 'platform');
    expect(containers()[0]?.env).toEqual([{ name: 'A', value: '1' }]);
  });

  test('a different value in an item another manager owns is a 409 naming the item by key, unless forced', async () => {
    await apply(`${deployments}/d`, deployment([{ name: 'relay', image: 'relay:1' }]), 'operator');
    const conflict = await apply(`${deployments}/d`, deployment([{ name: 'relay', image: 'relay:evil' }]), 'kubectl');
    expect(conflict.status).toBe(409);
    expect(conflict.body.message).toBe('Apply failed with 1 conflict: conflict with "operator" using apps/v1: .spec.template.spec.containers[name="relay"].image');
    expect(containers()[0]?.image).toBe('relay:1');
    expect((await apply(`${deployments}/d`, deployment([{ name: 'relay', image: 'relay:evil' }]), 'kubectl', true)).status).toBe(200);
    expect(containers()[0]?.image).toBe('relay:evil');
    // Forced: the field is kubectl's now, so the operator's next apply of its value is the conflict.
    expect((await apply(`${deployments}/d`, deployment([{ name: 'relay', image: 'relay:1' }]), 'operator')).status).toBe(409);
  });

  test('container ports are keyed by containerPort and protocol, protocol defaulting to TCP', async () => {
    const withPorts = (ports: JsonObject[]) => deployment([{ name: 'relay', image: 'r', ports }]);
    await apply(`${deployments}/d`, withPorts([{ containerPort: 8080, name: 'http' }]), 'operator');
    // The same port as UDP is another item; the same port with TCP spelt out is the operator's item. The stored
    // item has its protocol, as the server's defaulting gives it.
    await apply(`${deployments}/d`, withPorts([{ containerPort: 8080, protocol: 'UDP', name: 'dns' }]), 'other');
    expect(containers()[0]?.ports).toEqual([
      { containerPort: 8080, protocol: 'TCP', name: 'http' },
      { containerPort: 8080, protocol: 'UDP', name: 'dns' },
    ]);
    const clash = await apply(`${deployments}/d`, withPorts([{ containerPort: 8080, protocol: 'TCP', name: 'web' }]), 'other');
    expect(clash.status).toBe(409);
    expect(String(clash.body.message)).toContain('.spec.template.spec.containers[name="relay"].ports[containerPort=8080,protocol="TCP"].name');
  });

  test('volumes merge by name and volumeMounts by mountPath; tolerations are atomic', async () => {
    const spec = (volumes: JsonObject[], mounts: JsonObject[], tolerations: JsonObject[]) =>
      deployment([{ name: 'relay', image: 'r', volumeMounts: mounts }], { volumes, tolerations });
    await apply(`${deployments}/d`, spec([{ name: 'a', emptyDir: {} }], [{ name: 'a', mountPath: '/a' }], [{ key: 'x', operator: 'Exists' }]), 'operator');
    await apply(`${deployments}/d`, spec([{ name: 'b', emptyDir: {} }], [{ name: 'b', mountPath: '/b' }], [{ key: 'y', operator: 'Exists' }]), 'other', true);
    expect((podSpec().volumes as JsonObject[]).map((v) => v.name)).toEqual(['a', 'b']);
    expect((containers()[0] as JsonObject).volumeMounts).toEqual([
      { name: 'a', mountPath: '/a' },
      { name: 'b', mountPath: '/b' },
    ]);
    // Atomic: the whole list is replaced (the forced apply took it), not merged.
    expect(podSpec().tolerations).toEqual([{ key: 'y', operator: 'Exists' }]);
  });

  test('imagePullSecrets merge by name; ownerReferences by uid; a map-list item without its key is refused', async () => {
    await apply(`${deployments}/d`, deployment([{ name: 'relay', image: 'r' }], { imagePullSecrets: [{ name: 'one' }] }), 'operator');
    await apply(`${deployments}/d`, deployment([{ name: 'relay', image: 'r' }], { imagePullSecrets: [{ name: 'two' }] }), 'other');
    expect(podSpec().imagePullSecrets).toEqual([{ name: 'one' }, { name: 'two' }]);

    const owner = (uid: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', name: uid, uid, controller: false });
    const withOwners = (refs: JsonObject[]) => ({ ...deployment([{ name: 'relay', image: 'r' }]), metadata: { name: 'd', namespace: ns, ownerReferences: refs } });
    api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'keep', namespace: ns } });
    const secretUid = String((api.get('v1', 'Secret', ns, 'keep')!.metadata as JsonObject).uid);
    await apply(`${deployments}/d`, withOwners([owner(secretUid)]), 'operator');
    const second = { ...owner(secretUid), uid: `${secretUid}-2`, name: 'other' };
    api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'other', namespace: ns } });
    await apply(`${deployments}/d`, withOwners([second]), 'other');
    const refs = (api.get('apps/v1', 'Deployment', ns, 'd')!.metadata as { ownerReferences: Array<{ uid: string }> }).ownerReferences;
    expect(refs.map((r) => r.uid)).toEqual([secretUid, `${secretUid}-2`]);

    const missingKey = await apply(`${deployments}/d`, deployment([{ image: 'no-name' }]), 'operator');
    expect(missingKey).toMatchObject({ status: 422, body: { reason: 'Invalid' } });
    expect(String(missingKey.body.message)).toContain('omits key field "name"');
    const duplicate = await apply(`${deployments}/d`, deployment([{ name: 'relay', image: 'a' }, { name: 'relay', image: 'b' }]), 'operator');
    expect(duplicate.status).toBe(422);
  });

  test("the OutboxRelay's status.conditions merge by type, as its CRD marks them", async () => {
    api.create(relayManifest('r', ns, { replicas: 1 }), 'kubectl');
    const status = (conditions: JsonObject[]) => ({
      apiVersion: 'outbox-relay.dev/v1alpha1',
      kind: 'OutboxRelay',
      metadata: { name: 'r' },
      status: { conditions },
    });
    const condition = (type: string, s = 'True') => ({ type, status: s, reason: 'R', message: 'm', lastTransitionTime: '2026-01-01T00:00:00Z' });
    expect((await apply(`${relays}/r/status`, status([condition('Ready')]), 'operator')).status).toBe(200);
    expect((await apply(`${relays}/r/status`, status([condition('Audited')]), 'auditor')).status).toBe(200);
    const types = () => ((api.get('outbox-relay.dev/v1alpha1', 'OutboxRelay', ns, 'r')!.status as JsonObject).conditions as JsonObject[]).map((c) => c.type);
    expect(types()).toEqual(['Ready', 'Audited']);
    expect((await apply(`${relays}/r/status`, status([condition('Ready', 'False')]), 'auditor')).status).toBe(409);
    expect(await apply(`${relays}/r/status`, status([]), 'auditor')).toMatchObject({ status: 200 });
    expect(types()).toEqual(['Ready']);
  });

  test('a CRD list without markers is atomic; one marked set merges by value', async () => {
    const widgets = `/apis/example.dev/v1/namespaces/${ns}/widgets`;
    const widget = (spec: JsonObject) => ({ apiVersion: 'example.dev/v1', kind: 'Widget', metadata: { name: 'w' }, spec });
    const stored = () => api.get('example.dev/v1', 'Widget', ns, 'w')!.spec as JsonObject;
    expect((await apply(`${widgets}/w`, widget({ plain: ['a'], tags: ['a'] }), 'one')).status).toBe(201);
    expect((await apply(`${widgets}/w`, widget({ tags: ['b'] }), 'two')).status).toBe(200);
    expect(stored()).toEqual({ plain: ['a'], tags: ['a', 'b'] });
    const atomic = await apply(`${widgets}/w`, widget({ plain: ['b'] }), 'two');
    expect(atomic.status).toBe(409);
    expect(String(atomic.body.message)).toContain('conflict with "one" using example.dev/v1: .spec.plain');
  });
});
