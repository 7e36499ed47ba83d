/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import { SECRETS_HASH_ANNOTATION } from '../../src/reconcile/secrets';
import type { JsonObject } from '../support/fake-kube-api';
import { ControllerHarness } from '../support/harness';
import { type ClientNodeGlobal } from '../support/kube';
import { relayDatabaseSecret } from '../support/relays';
import { waitFor } from '@outbox-relay/test-support';

const ns = 'secrets';

interface Template {
  metadata?: { annotations?: Record<string, string> };
  spec?: { containers?: Array<{ env?: Array<{ name: string }> }> };
}
const templateOf = (d: JsonObject | undefined): Template | undefined => (d?.spec as { template?: Template } | undefined)?.template;
const hashOf = (d: JsonObject | undefined) => templateOf(d)?.metadata?.annotations?.[SECRETS_HASH_ANNOTATION];
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('relay pods follow the Secrets they read (fake API server, real client-node)', () => {
  let h: ControllerHarness;
  afterEach(() => h.stop());

  test('a change of the database Secret\'s data changes the pod template (the pods roll); a re-write of the same data does not', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders');
    const first = await waitFor('the Deployment with a Secrets hash', () => hashOf(h.child('Deployment', 'orders')));

    // Same data, new labels: a new resourceVersion, but nothing the pods read changed.
    h.api.update('v1', 'Secret', ns, 'relay-db', (s) => ((s.metadata as JsonObject).labels = { rotated: 'no' }), { manager: 'kubectl' });
    h.api.update('v1', 'Secret', ns, 'relay-db', (s) => ((s.data as JsonObject).url = b64('postgres://relay@db2:5432/app')), { manager: 'kubectl' });
    const second = await waitFor('a new Secrets hash', () => {
      const hash = hashOf(h.child('Deployment', 'orders'));
      return hash !== first && hash;
    });
    expect(second).toMatch(/^[0-9a-f]{64}$/);

    // Back to the first data: the first hash again (the digest is of the data, not of the Secret's version).
    h.api.update('v1', 'Secret', ns, 'relay-db', (s) => ((s.data as JsonObject).url = b64('postgres://relay@db:5432/app')), { manager: 'kubectl' });
    await waitFor('the first hash again', () => hashOf(h.child('Deployment', 'orders')) === first);
  });

  test('a Secret named in the user\'s env: its change rolls the pods too', async () => {
    h = await ControllerHarness.start(ns);
    h.api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tokens', namespace: ns }, data: { api: b64('one') } }, 'kubectl');
    h.createRelay('orders', { template: { container: { env: [{ name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'tokens', key: 'api' } } }] } } });
    const first = await waitFor('the Deployment', () => hashOf(h.child('Deployment', 'orders')));
    expect(templateOf(h.child('Deployment', 'orders'))?.spec?.containers?.[0]?.env?.map((e) => e.name)).toContain('API_TOKEN');

    h.api.update('v1', 'Secret', ns, 'tokens', (s) => ((s.data as JsonObject).api = b64('two')), { manager: 'kubectl' });
    await waitFor('a new Secrets hash', () => hashOf(h.child('Deployment', 'orders')) !== first);
  });

  test('a missing Secret: a condition names it and nothing is created; once it exists, the relay is deployed', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders', {}, { withSecret: false });
    const degraded = await h.waitForStatus('orders', 'SecretMissing', (s) => s.conditions?.find((c) => c.type === 'Degraded' && c.reason === 'SecretMissing'));
    expect(degraded.message).toContain('Secret relay-db (spec.database.secretRef) does not exist');
    // The status is written after the objects are applied, in the same sync: none were.
    expect(h.child('Deployment', 'orders')).toBeUndefined();
    expect(h.child('ServiceAccount', 'orders')).toBeUndefined();

    // Creating the Secret wakes the relay that reads it (no resync in this test's timings: 60 s).
    h.api.create(relayDatabaseSecret(ns), 'kubectl');
    await waitFor('the Deployment', () => h.child('Deployment', 'orders'));
    await h.waitForStatus('orders', 'no longer degraded by it', (s) => s.conditions?.some((c) => c.type === 'Degraded' && c.reason !== 'SecretMissing'));
  });

  test('a Secret deleted, or a new reference to one that does not exist: the running Deployment is left as it is', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders');
    const deployed = await waitFor('the Deployment', () => h.child('Deployment', 'orders'));
    const template = JSON.stringify(templateOf(deployed));

    h.editSpec('orders', (spec) => ((spec.nats as JsonObject).tls = { secretName: 'nats-tls', caKey: 'ca.crt' }));
    const missing = await h.waitForStatus('orders', 'SecretMissing', (s) => s.conditions?.find((c) => c.type === 'Degraded' && c.reason === 'SecretMissing'));
    expect(missing.message).toContain('Secret nats-tls (spec.nats.tls.secretName) does not exist');
    expect(JSON.stringify(templateOf(h.child('Deployment', 'orders')))).toBe(template);
    await waitFor('a SecretMissing Warning event', () => h.events('SecretMissing').length === 1);

    h.editSpec('orders', (spec) => delete (spec.nats as JsonObject).tls);
    await h.waitForStatus('orders', 'the missing Secret forgotten', (s) => !s.conditions?.some((c) => c.reason === 'SecretMissing'));
    h.api.delete('v1', 'Secret', ns, 'relay-db');
    await h.waitForStatus('orders', 'SecretMissing for the deleted one', (s) => s.conditions?.some((c) => c.message.includes('Secret relay-db (spec.database.secretRef) does not exist')));
    expect(JSON.stringify(templateOf(h.child('Deployment', 'orders')))).toBe(template);
  });

  test('Helm release and service-account token Secrets are never listed, watched or held', async () => {
    h = await ControllerHarness.start(ns);
    h.createRelay('orders');
    await waitFor('the Deployment', () => h.child('Deployment', 'orders'));
    const secretReads = h.api.requests.filter((r) => r.resource === 'secrets' && (r.verb === 'list' || r.verb === 'watch'));
    expect(secretReads.length).toBeGreaterThan(0);
    for (const r of secretReads) expect(r.query.fieldSelector).toBe('type!=helm.sh/release.v1,type!=kubernetes.io/service-account-token');

    // Named in the spec, a Secret of such a type is out of the operator's sight: reported missing, not read.
    const release = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sh.helm.release.v1.shop.v7', namespace: ns }, type: 'helm.sh/release.v1', data: { release: b64('x'.repeat(512 * 1024)) } };
    h.api.create(release as JsonObject, 'helm');
    h.editSpec('orders', (spec) => ((spec.database as JsonObject).secretRef = { name: 'sh.helm.release.v1.shop.v7', key: 'release' }));
    await h.waitForStatus('orders', 'SecretMissing', (st) => st.conditions?.some((c) => c.message.includes('Secret sh.helm.release.v1.shop.v7 (spec.database.secretRef) does not exist')));
  });
});
