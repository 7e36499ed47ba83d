/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import { outboxRelayCrd } from '../../src/api/crd';
import { FIELD_MANAGER } from '../../src/api/group';
import { KubeApiError } from '../../src/errors';
import { k8s, type CoreV1Event } from '../../src/kube/client-node';
import { KubeClient } from '../../src/kube/kube-client';
import { FakeKubeApi, type JsonObject } from '../support/fake-kube-api';
import { kubeConfigFor, type ClientNodeGlobal } from '../support/kube';
import { relayManifest, relayPod } from '../support/relays';

const ns = 'kube-client';

function deployment(replicas: number, extraLabels: Record<string, string> = {}): JsonObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: ns, labels: { app: 'web', ...extraLabels } },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
    },
  };
}

describe('KubeClient against the fake API server', () => {
  let api: FakeKubeApi;
  let client: KubeClient;

  beforeAll(async () => {
    api = await FakeKubeApi.start({ crds: [outboxRelayCrd] });
    client = new KubeClient(kubeConfigFor(api.url, ns));
  });
  afterAll(() => api.close());
  beforeEach(() => {
    api.requests.length = 0;
  });

  test('apply is a server-side apply: apply-patch content type, our field manager, force', async () => {
    await client.apply(deployment(2));
    const patch = api.requests.find((r) => r.method === 'PATCH');
    expect(patch).toMatchObject({
      contentType: 'application/apply-patch+yaml',
      query: { fieldManager: FIELD_MANAGER, force: 'true' },
      resource: 'deployments',
      name: 'web',
    });
    expect(api.get('apps/v1', 'Deployment', ns, 'web')).toMatchObject({ spec: { replicas: 2 }, metadata: { generation: 1 } });
  });

  test('a field left out of the next apply is removed (the object is not merged into)', async () => {
    await client.apply(deployment(2, { tier: 'front' }));
    expect(api.get('apps/v1', 'Deployment', ns, 'web')?.metadata).toMatchObject({ labels: { tier: 'front' } });
    await client.apply(deployment(2));
    expect((api.get('apps/v1', 'Deployment', ns, 'web')?.metadata as JsonObject).labels).toEqual({ app: 'web' });
  });

  test('apply takes back a field another manager changed (force), bumping the generation', async () => {
    await client.apply(deployment(2));
    const before = api.get('apps/v1', 'Deployment', ns, 'web')!;
    api.update('apps/v1', 'Deployment', ns, 'web', (d) => ((d.spec as JsonObject).replicas = 5), { manager: 'kubectl-scale' });
    await client.apply(deployment(2));
    const after = api.get('apps/v1', 'Deployment', ns, 'web')!;
    expect((after.spec as JsonObject).replicas).toBe(2);
    expect((after.metadata as JsonObject).generation).toBe(Number((before.metadata as JsonObject).generation) + 2);
  });

  test('applying an unchanged object is a no-op: same resourceVersion', async () => {
    await client.apply(deployment(3));
    const rv = (api.get('apps/v1', 'Deployment', ns, 'web')!.metadata as JsonObject).resourceVersion;
    await client.apply(deployment(3));
    expect((api.get('apps/v1', 'Deployment', ns, 'web')!.metadata as JsonObject).resourceVersion).toBe(rv);
  });

  test('status is replaced through the status subresource, from the version read: spec and generation untouched, a stale write refused', async () => {
    api.create(relayManifest('orders', ns, { replicas: 2 }));
    const relay = (await client.getRelay(ns, 'orders'))!;
    const written = await client.replaceRelayStatus(relay, { replicas: 2, readyReplicas: 1, currentLeader: 'orders-a' });
    const req = api.requests.find((r) => r.subresource === 'status')!;
    expect(req).toMatchObject({ method: 'PUT', verb: 'update', status: 200 });
    const stored = api.get('outbox-relay.dev/v1alpha1', 'OutboxRelay', ns, 'orders')!;
    expect(stored.status).toEqual({ replicas: 2, readyReplicas: 1, currentLeader: 'orders-a' });
    expect(stored.metadata).toMatchObject({ generation: 1 });
    expect(stored.spec).toMatchObject({ replicas: 2 });

    // Written from what was read before that write: another writer came first, so nothing is written.
    await expect(client.replaceRelayStatus(relay, { replicas: 2, readyReplicas: 0 })).resolves.toBeUndefined();
    expect(api.requests.filter((r) => r.subresource === 'status').map((r) => r.status)).toEqual([200, 409]);
    expect(api.get('outbox-relay.dev/v1alpha1', 'OutboxRelay', ns, 'orders')!.status).toMatchObject({ currentLeader: 'orders-a' });

    // From the version just written: the whole status is ours, a field left out (no leader any more) disappears.
    await client.replaceRelayStatus(written!, { replicas: 2, readyReplicas: 0 });
    expect(api.get('outbox-relay.dev/v1alpha1', 'OutboxRelay', ns, 'orders')!.status).toEqual({ replicas: 2, readyReplicas: 0 });
  });

  test("client-node's default content type for a custom object status patch is JSON patch, which the server refuses for an object body", async () => {
    const custom = kubeConfigFor(api.url, ns).makeApiClient(k8s.CustomObjectsApi);
    api.create(relayManifest('plain', ns));
    const sent = custom.patchNamespacedCustomObjectStatus({
      group: 'outbox-relay.dev',
      version: 'v1alpha1',
      namespace: ns,
      plural: 'outboxrelays',
      name: 'plain',
      body: { status: { replicas: 1 } },
      fieldManager: FIELD_MANAGER,
    });
    await expect(sent).rejects.toMatchObject({ code: 400 });
    expect(api.requests.at(-1)?.contentType).toBe('application/json-patch+json');
  });

  test('getRelay returns undefined for a missing resource', async () => {
    await expect(client.getRelay(ns, 'missing')).resolves.toBeUndefined();
  });

  test('evictPod: through the Eviction API; a pod that is gone or was replaced (uid) is reported gone, a budget that says no is blocked', async () => {
    const first = api.create(relayPod('orders', ns, 'orders-1', '10.0.0.1'));
    const uid = (first.metadata as JsonObject).uid as string;
    await expect(client.evictPod(ns, 'orders-1', uid)).resolves.toEqual({ kind: 'evicted' });
    expect(api.requests.find((r) => r.subresource === 'eviction')).toMatchObject({ method: 'POST', verb: 'create', resource: 'pods' });
    // Evicted is deleted: the pod is Terminating until the kubelet is done, then gone.
    expect(api.get('v1', 'Pod', ns, 'orders-1')?.metadata).toMatchObject({ deletionTimestamp: expect.any(String), deletionGracePeriodSeconds: 30 });
    api.finishTermination(ns, 'orders-1');
    await expect(client.evictPod(ns, 'orders-1', uid)).resolves.toEqual({ kind: 'gone' });

    api.create(relayPod('orders', ns, 'orders-1', '10.0.0.2'));
    await expect(client.evictPod(ns, 'orders-1', uid)).resolves.toEqual({ kind: 'gone' });
    expect(api.get('v1', 'Pod', ns, 'orders-1')).toBeDefined();

    // A budget the disruption controller has not computed yet allows nothing.
    api.create({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'orders', namespace: ns }, spec: { maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/instance': 'orders' } } } });
    const second = api.get('v1', 'Pod', ns, 'orders-1')!;
    const blocked = await client.evictPod(ns, 'orders-1', (second.metadata as JsonObject).uid as string);
    expect(blocked).toMatchObject({ kind: 'blocked', message: expect.stringContaining("violate the pod's disruption budget") });
    expect(api.get('v1', 'Pod', ns, 'orders-1')).toBeDefined();
    api.delete('policy/v1', 'PodDisruptionBudget', ns, 'orders');
  });

  test('annotatePod merges annotations (null removes one) and reports a pod that is gone', async () => {
    const pod = relayPod('orders', ns, 'orders-9', '10.0.0.9');
    (pod.metadata as JsonObject).annotations = { keep: 'me' };
    api.create(pod);
    await expect(client.annotatePod(ns, 'orders-9', { cost: '2' })).resolves.toBe(true);
    expect((api.get('v1', 'Pod', ns, 'orders-9')!.metadata as JsonObject).annotations).toEqual({ keep: 'me', cost: '2' });
    await client.annotatePod(ns, 'orders-9', { cost: null });
    expect((api.get('v1', 'Pod', ns, 'orders-9')!.metadata as JsonObject).annotations).toEqual({ keep: 'me' });
    expect(api.requests.filter((r) => r.resource === 'pods' && r.verb === 'patch').map((r) => r.contentType)).toEqual([
      'application/merge-patch+json',
      'application/merge-patch+json',
    ]);
    await expect(client.annotatePod(ns, 'missing', { cost: '1' })).resolves.toBe(false);
  });

  test('createEvent stores a core/v1 Event about the object', async () => {
    const event: CoreV1Event = {
      metadata: { name: 'orders.1', namespace: ns },
      involvedObject: { apiVersion: 'outbox-relay.dev/v1alpha1', kind: 'OutboxRelay', name: 'orders', namespace: ns },
      type: 'Warning',
      reason: 'LeaderFailover',
      message: 'StepDown orders-a',
    };
    await client.createEvent(event);
    expect(api.get('v1', 'Event', ns, 'orders.1')).toMatchObject({ reason: 'LeaderFailover', involvedObject: { name: 'orders' } });
  });

  test('a request the API server never answers ends by the client timeout as a KubeApiError without a status', async () => {
    const impatient = new KubeClient(kubeConfigFor(api.url, ns), { timeoutMs: 200 });
    api.create(relayManifest('slow', ns));
    const hold = api.holdRequests((r) => r.verb === 'get' && r.resource === 'outboxrelays' && r.name === 'slow');
    const failure = impatient.getRelay(ns, 'slow').catch((err: unknown) => err);
    // The client gave up by itself: the fake never answered.
    await hold.whenAbandoned(1);
    expect(await failure).toMatchObject({ name: 'KubeApiError', operation: 'get', objectName: 'slow', statusCode: undefined, timedOut: true });
    hold.release();
  });

  test('a failed request becomes a KubeApiError naming the operation, the object and the status', async () => {
    api.failNext(1, { status: 500, match: (r) => r.resource === 'deployments' });
    const failure = client.apply(deployment(1));
    await expect(failure).rejects.toBeInstanceOf(KubeApiError);
    await expect(failure).rejects.toMatchObject({ operation: 'apply', kind: 'Deployment', namespace: ns, objectName: 'web', statusCode: 500 });
  });
});
