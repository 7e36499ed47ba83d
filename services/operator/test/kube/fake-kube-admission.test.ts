import { outboxRelayCrd } from '../../src/api/crd';
import { withDefaults } from '../../src/api/defaults';
import { FakeKubeApi, type JsonObject } from '../support/fake-kube-api';
import { relayManifest } from '../support/relays';

/** Admission as the real API server does it: what it refuses (422 Invalid, with causes) and what it defaults. */
describe('FakeKubeApi admission', () => {
  let api: FakeKubeApi;
  const ns = 'admit';
  const relays = `/apis/outbox-relay.dev/v1alpha1/namespaces/${ns}/outboxrelays`;
  const call = async (method: string, path: string, body: unknown, contentType = 'application/json') => {
    const res = await fetch(api.url + path, { method, headers: { 'content-type': contentType }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as JsonObject };
  };
  const causes = (body: JsonObject) => ((body.details as JsonObject | undefined)?.causes ?? []) as Array<{ field: string; reason: string; message: string }>;
  const stored = () => api.get('outbox-relay.dev/v1alpha1', 'OutboxRelay', ns, 'r');
  const minimal = { database: { secretRef: { name: 'relay-db', key: 'url' } }, nats: { url: 'nats://nats:4222' } };

  beforeEach(async () => {
    api = await FakeKubeApi.start({ crds: [outboxRelayCrd] });
  });
  afterEach(() => api.close());

  test("a create the CRD schema refuses is a 422 in the server's Status shape, naming each field", async () => {
    const res = await call('POST', relays, relayManifest('r', ns, { replicas: -1, logLevel: 'verbose', nats: { url: 'http://nats:4222' } }));
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Invalid', code: 422 });
    expect(res.body.details).toMatchObject({ name: 'r', group: 'outbox-relay.dev', kind: 'OutboxRelay' });
    expect(causes(res.body).map((c) => c.field).sort()).toEqual(['spec.logLevel', 'spec.nats.url', 'spec.replicas']);
    expect(causes(res.body).find((c) => c.field === 'spec.logLevel')?.reason).toBe('FieldValueNotSupported');
    expect(String(res.body.message)).toMatch(/^OutboxRelay\.outbox-relay\.dev "r" is invalid: \[/);
    expect(stored()).toBeUndefined();

    const missing = await call('POST', relays, { apiVersion: 'outbox-relay.dev/v1alpha1', kind: 'OutboxRelay', metadata: { name: 'r' }, spec: { database: minimal.database } });
    expect(causes(missing.body)).toContainEqual({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.nats' });
  });

  test("the CRD's CEL rules are enforced, with their message and field", async () => {
    const res = await call('POST', relays, relayManifest('r', ns, { leaseDurationMs: 2000, renewIntervalMs: 1500 }));
    expect(res.status).toBe(422);
    expect(causes(res.body)).toEqual([
      { reason: 'FieldValueInvalid', field: 'spec.renewIntervalMs', message: 'renewIntervalMs must be at most half of leaseDurationMs, so a lease survives one missed renewal' },
    ]);
  });

  test('defaults are filled in on create; unknown fields are pruned, or refused under fieldValidation=Strict', async () => {
    const created = await call('POST', relays, relayManifest('r', ns, { bogus: 1 }));
    expect(created.status).toBe(201);
    expect(created.body.spec).toEqual(withDefaults(minimal));
    const strict = await call('POST', `${relays}?fieldValidation=Strict`, relayManifest('s', ns, { bogus: 1 }));
    expect(strict.status).toBe(422);
    expect(causes(strict.body).map((c) => c.field)).toEqual(['spec.bogus']);
  });

  test('updates, patches, applies and status writes are validated too; a refused write changes nothing', async () => {
    api.create(relayManifest('r', ns), 'kubectl');
    const before = stored();
    expect((await call('PATCH', `${relays}/r`, { spec: { partitionCount: 0 } }, 'application/merge-patch+json')).status).toBe(422);
    expect((await call('PUT', `${relays}/r`, { ...before, spec: { ...(before!.spec as JsonObject), batchSize: 0 } })).status).toBe(422);
    const apply = { apiVersion: 'outbox-relay.dev/v1alpha1', kind: 'OutboxRelay', metadata: { name: 'r' }, spec: { replicas: 'three' } };
    const applied = await call('PATCH', `${relays}/r?fieldManager=x&force=true`, apply, 'application/apply-patch+yaml');
    expect(applied.status).toBe(422);
    expect(causes(applied.body)[0]).toMatchObject({ field: 'spec.replicas', reason: 'FieldValueTypeInvalid' });
    const badStatus = await call('PATCH', `${relays}/r/status`, { status: { conditions: [{ type: 'Ready' }] } }, 'application/merge-patch+json');
    expect(badStatus.status).toBe(422);
    expect(causes(badStatus.body).map((c) => c.field)).toContain('status.conditions.0.status');
    expect(stored()).toEqual(before);
  });

  test('validation ratchets: a stored value the CRD now refuses may stay while it is unchanged, not be changed into another bad one', async () => {
    // Stored before the CRD had its CEL rule (or with validation bypassed).
    api.create(relayManifest('r', ns, { leaseDurationMs: 2000, renewIntervalMs: 1500 }), 'kubectl', { admission: false });
    const status = await call('PATCH', `${relays}/r/status`, { status: { replicas: 0 } }, 'application/merge-patch+json');
    expect(status.status).toBe(200);
    const changed = await call('PATCH', `${relays}/r`, { spec: { renewIntervalMs: 1600 } }, 'application/merge-patch+json');
    expect(changed.status).toBe(422);
  });

  test('a CEL rule shape the evaluator does not understand makes the fake refuse to start, never pass silently', async () => {
    const crd = structuredClone(outboxRelayCrd) as unknown as { spec: { versions: Array<{ schema: { openAPIV3Schema: { properties: { spec: JsonObject } } } }> } };
    const spec = crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec;
    spec['x-kubernetes-validations'] = [{ rule: 'self.nats.url.startsWith("nats://")', message: 'm' }];
    await expect(FakeKubeApi.start({ crds: [crd as never] })).rejects.toThrow(/CEL rule outside the subset/);
    spec['x-kubernetes-validations'] = [{ rule: 'self.leaseDurationMs / 3 >= self.renewIntervalMs', message: 'm' }];
    await expect(FakeKubeApi.start({ crds: [crd as never] })).rejects.toThrow(/CEL rule outside the subset/);
  });

  describe('built-in objects', () => {
    const deployment = (labels: Record<string, string>, selector = labels): JsonObject => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', namespace: ns },
      spec: { selector: { matchLabels: selector }, template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'i' }] } } },
    });
    const deployments = `/apis/apps/v1/namespaces/${ns}/deployments`;

    test("a Deployment's selector cannot change, and must match its template's labels", async () => {
      expect((await call('POST', deployments, deployment({ app: 'd' }))).status).toBe(201);
      const changed = await call('PATCH', `${deployments}/d`, deployment({ app: 'e' }), 'application/merge-patch+json');
      expect(changed.status).toBe(422);
      expect(changed.body).toMatchObject({ kind: 'Status', reason: 'Invalid', details: { name: 'd', group: 'apps', kind: 'Deployment' } });
      expect(causes(changed.body).map((c) => c.field)).toEqual(['spec.selector']);
      expect(String(changed.body.message)).toContain('field is immutable');
      const mismatch = await call('POST', deployments, { ...deployment({ app: 'x' }, { app: 'y' }), metadata: { name: 'm', namespace: ns } });
      expect(causes(mismatch.body).map((c) => c.field)).toEqual(['spec.template.metadata.labels']);
    });

    test("a Service gets a clusterIP that cannot change; an update that leaves it out keeps it", async () => {
      const services = `/api/v1/namespaces/${ns}/services`;
      const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: ns }, spec: { selector: { app: 'd' }, ports: [{ port: 80 }] } };
      const created = await call('POST', services, service);
      const ip = (created.body.spec as { clusterIP?: string }).clusterIP;
      expect(ip).toMatch(/^10\.96\.\d+\.\d+$/);
      const current = created.body;
      const moved = await call('PUT', `${services}/s`, { ...current, spec: { ...(current.spec as JsonObject), clusterIP: '10.96.99.99' } });
      expect(moved.status).toBe(422);
      expect(causes(moved.body).map((c) => c.field)).toEqual(['spec.clusterIP']);
      const { clusterIP: _ip, clusterIPs: _ips, ...withoutIp } = current.spec as JsonObject;
      const kept = await call('PUT', `${services}/s`, { ...current, spec: withoutIp });
      expect(kept.status).toBe(200);
      expect((kept.body.spec as { clusterIP?: string }).clusterIP).toBe(ip);
    });

    test("a PodDisruptionBudget's selector may change (policy/v1, mutable since 1.15)", async () => {
      const pdbs = `/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets`;
      const pdb = (app: string) => ({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'p', namespace: ns }, spec: { maxUnavailable: 1, selector: { matchLabels: { app } } } });
      expect((await call('POST', pdbs, pdb('a'))).status).toBe(201);
      expect((await call('PATCH', `${pdbs}/p`, pdb('b'), 'application/merge-patch+json')).status).toBe(200);
    });
  });
});
