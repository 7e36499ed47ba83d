/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import { randomBytes } from 'node:crypto';
import { ADMIN_TOKEN_DIGEST_ANNOTATION } from '../../src/reconcile/admin-token';
import type { JsonObject } from '../support/fake-kube-api';
import { ControllerHarness } from '../support/harness';
import type { ClientNodeGlobal } from '../support/kube';
import { waitFor } from '@outbox-relay/test-support';

/**
 * The admin token of POST /step-down (issue 16): one Secret per OutboxRelay, made once by the operator and mounted
 * into the relay pods; the operator sends its token with every step-down. The fake relays of the harness refuse a
 * step-down without the token in that Secret, as the real relay does (services/relay/test/step-down-token.test.ts).
 */
const ns = 'shop';
const SECRET = 'orders-relay-admin';

type PodTemplate = { metadata?: { annotations?: Record<string, string> }; spec: { volumes: JsonObject[]; containers: Array<{ env: Array<{ name: string; value?: string }>; volumeMounts: JsonObject[] }> } };
const templateOf = (d: JsonObject | undefined) => (d?.spec as { template: PodTemplate } | undefined)?.template;
const digestOf = (d: JsonObject | undefined) => templateOf(d)?.metadata?.annotations?.[ADMIN_TOKEN_DIGEST_ANNOTATION];
const secretCreates = (h: ControllerHarness) => h.api.requests.filter((r) => r.resource === 'secrets' && r.verb === 'create');
const secretWrites = (h: ControllerHarness) => h.api.requests.filter((r) => r.resource === 'secrets' && r.method !== 'GET');

describe('the admin token of the relays', () => {
  let h: ControllerHarness;
  afterEach(() => h.stop());

  test('is made once per OutboxRelay (32 random bytes, owned by it) and kept through later reconciles', async () => {
    h = await ControllerHarness.start(ns);
    const relay = h.createRelay('orders');
    const secret = await waitFor('the admin Secret', () => h.child('Secret', SECRET));
    const token = h.adminToken('orders')!;
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(secret.metadata).toMatchObject({
      labels: { 'app.kubernetes.io/managed-by': 'outbox-relay-operator', 'app.kubernetes.io/component': 'admin-token', 'app.kubernetes.io/instance': 'orders' },
      ownerReferences: [{ kind: 'OutboxRelay', name: 'orders', uid: (relay.metadata as JsonObject).uid, controller: true }],
    });
    const version = (secret.metadata as JsonObject).resourceVersion;

    h.editSpec('orders', (spec) => (spec.replicas = 3));
    await waitFor('3 replicas', () => (h.child('Deployment', 'orders')?.spec as { replicas?: number } | undefined)?.replicas === 3);
    await h.reconciled(2);
    expect(h.adminToken('orders')).toBe(token);
    expect((h.child('Secret', SECRET)?.metadata as JsonObject).resourceVersion).toBe(version);
    expect(secretWrites(h).map((r) => `${r.verb} ${r.name ?? ''}`)).toEqual(['create ']);

    // A second relay gets its own token.
    h.createRelay('billing');
    await waitFor('the second admin Secret', () => h.child('Secret', 'billing-relay-admin'));
    expect(h.adminToken('billing')).not.toBe(token);
  });

  test('is mounted read-only into the relay pods, pointed to by OUTBOX_ADMIN_TOKEN_FILE, its digest on the template', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders');
    await waitFor('the admin Secret', () => h.child('Secret', SECRET));
    const template = templateOf(await waitFor('the Deployment with the digest', () => (digestOf(h.child('Deployment', 'orders')) ? h.child('Deployment', 'orders') : undefined)));
    if (!template) throw new Error('no pod template');
    expect(template.spec.volumes).toContainEqual({ name: 'admin-token', secret: { secretName: SECRET, items: [{ key: 'token', path: 'token' }], defaultMode: 0o440 } });
    const [container] = template.spec.containers;
    expect(container!.volumeMounts).toContainEqual({ name: 'admin-token', mountPath: '/var/run/secrets/outbox-relay-admin', readOnly: true });
    expect(container!.env).toContainEqual({ name: 'OUTBOX_ADMIN_TOKEN_FILE', value: '/var/run/secrets/outbox-relay-admin/token' });
    // The template carries a digest, never the token.
    expect(JSON.stringify(template)).not.toContain(h.adminToken('orders')!);
  });

  test('is sent with a step-down, which the relay takes; one without it is refused', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders');
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 7 });
    await h.addPod('orders', 'orders-b', { leading: false });
    await h.waitForStatus('orders', 'orders-a leads', (s) => s.currentLeader === 'orders-a');
    // The fake relay is as strict as the real one: no token, no step-down.
    const unauthenticated = await fetch(`${h.relays.baseUrl({ name: 'orders-a', ip: '' })}/step-down`, { method: 'POST' });
    expect(unauthenticated.status).toBe(401);

    h.api.update('outbox-relay.dev/v1alpha1', 'OutboxRelay', ns, 'orders', (r) => void ((r.metadata as JsonObject).annotations = { 'outbox-relay.dev/step-down': '7' }));
    await waitFor('the step-down taken', () => h.relays.stepDowns('orders-a') === 1);
    expect(h.relays.refusedStepDowns('orders-a')).toBe(1); // only the one above
    expect(await h.metrics.value(h.metrics.actions, { kind: 'StepDown', outcome: 'done' })).toBe(1);
  });

  test('a token changed in the Secret is sent from then on and restarts the pods (a new digest); a deleted Secret is made again', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders');
    await h.addPod('orders', 'orders-a', { leading: true, epoch: 7 });
    await h.addPod('orders', 'orders-b', { leading: false });
    await h.waitForStatus('orders', 'orders-a leads', (s) => s.currentLeader === 'orders-a');
    const first = await waitFor('the digest', () => digestOf(h.child('Deployment', 'orders')));

    const changed = randomBytes(32).toString('base64url');
    h.api.update('v1', 'Secret', ns, SECRET, (s) => void (s.data = { token: Buffer.from(changed).toString('base64') }), { manager: 'kubectl' });
    const second = await waitFor('a new digest', () => {
      const digest = digestOf(h.child('Deployment', 'orders'));
      return digest !== first ? digest : undefined;
    });
    expect(h.adminToken('orders')).toBe(changed);
    h.api.update('outbox-relay.dev/v1alpha1', 'OutboxRelay', ns, 'orders', (r) => void ((r.metadata as JsonObject).annotations = { 'outbox-relay.dev/step-down': '7' }));
    await waitFor('the step-down taken with the changed token', () => h.relays.stepDowns('orders-a') === 1);
    expect(h.relays.refusedStepDowns('orders-a')).toBe(0);

    h.api.delete('v1', 'Secret', ns, SECRET);
    const remade = await waitFor('the Secret made again', () => h.adminToken('orders'));
    expect(remade).not.toBe(changed);
    await waitFor('a third digest', () => {
      const digest = digestOf(h.child('Deployment', 'orders'));
      return digest !== undefined && digest !== first && digest !== second;
    });
    expect(secretCreates(h)).toHaveLength(2);
  });

  test('a Secret of that name the operator did not make is reported, not replaced; the pods keep running as they are', async () => {
    h = await ControllerHarness.start(ns);
    h.api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: SECRET, namespace: ns }, data: { token: Buffer.from('mine').toString('base64') } }, 'kubectl');
    h.createRelay('orders');
    const deployment = await waitFor('the Deployment', () => h.child('Deployment', 'orders'));
    const event = await waitFor('an AdminSecretInvalid event', () => h.events('AdminSecretInvalid')[0]);
    expect(event.message).toContain(`${ns}/${SECRET} exists but is not the operator's`);
    expect(digestOf(deployment)).toBeUndefined();
    expect(Buffer.from((h.child('Secret', SECRET)?.data as { token: string }).token, 'base64').toString()).toBe('mine');

    await h.addPod('orders', 'orders-a', { leading: true, epoch: 7 });
    await h.waitForStatus('orders', 'orders-a leads', (s) => s.currentLeader === 'orders-a');
    h.api.update('outbox-relay.dev/v1alpha1', 'OutboxRelay', ns, 'orders', (r) => void ((r.metadata as JsonObject).annotations = { 'outbox-relay.dev/step-down': '7' }));
    const failed = await waitFor('a StepDownFailed event', () => h.events('StepDownFailed')[0]);
    expect(failed.message).toContain('no usable admin token');
    expect(h.relays.stepDowns('orders-a')).toBe(0);
  });
});
