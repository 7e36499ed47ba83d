import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { withDefaults } from '../../src/api/defaults';
import type { OutboxRelayResource } from '../../src/api/types';
import { validateRelay } from '../../src/reconcile/validate';
import { validateManifest } from './k8s-models';
import { reconcile } from '../../src/reconcile';
import { presentSecrets } from '../reconcile/fixtures';
import { openAPIV3Schema } from '../../src/api/crd';
import { compileCrdValidator } from '../support/crd-validator';

const validateCrd = compileCrdValidator(openAPIV3Schema);

const repoRoot = path.resolve(__dirname, '../../../..');
const load = (file: string) => YAML.parse(fs.readFileSync(path.join(repoRoot, 'deploy/samples', file), 'utf8'));

describe('deploy/samples', () => {
  const relay = load('outboxrelay.yaml') as OutboxRelayResource;
  const secret = load('database-secret.yaml');

  test('the database Secret is a valid Secret holding the key the OutboxRelay points to', () => {
    expect(() => validateManifest(secret)).not.toThrow();
    expect(secret.metadata.name).toBe(relay.spec.database.secretRef.name);
    expect(Object.keys(secret.stringData)).toContain(relay.spec.database.secretRef.key);
  });

  test('the sample OutboxRelay passes the operator\'s own validation too', () => {
    expect(validateRelay(relay, withDefaults(relay.spec))).toEqual([]);
  });

  test('the platform-owned stream sample is valid for the CRD and the operator, in verify mode with TLS', () => {
    const platform = load('outboxrelay-platform-stream.yaml') as OutboxRelayResource;
    expect(validateCrd(platform).errors).toEqual([]);
    expect(validateRelay(platform, withDefaults(platform.spec))).toEqual([]);
    expect(platform.spec.nats).toMatchObject({ streamManagement: 'verify', tls: { secretName: 'nats-client-tls', caKey: 'ca.crt' } });
  });

  test('the pod template sample is valid for the CRD and the operator, and its Deployment for Kubernetes', () => {
    const templated = load('outboxrelay-pod-template.yaml') as OutboxRelayResource;
    expect(validateCrd(templated).errors).toEqual([]);
    const spec = withDefaults(templated.spec);
    expect(validateRelay(templated, spec)).toEqual([]);
    const relay = { ...templated, metadata: { ...templated.metadata, namespace: 'shop', uid: 'u-1' } };
    const { objects } = reconcile({ relay, pods: [], secrets: presentSecrets(relay), defaultImage: 'registry.test/relay:1', now: new Date() });
    const deployment = objects.find((o) => o.kind === 'Deployment') as { spec: { template: { spec: Record<string, unknown> } } } | undefined;
    expect(deployment).toBeDefined();
    for (const object of objects) expect(() => validateManifest(object)).not.toThrow();
    expect(Object.keys(deployment!.spec.template.spec)).toEqual(
      expect.arrayContaining(['imagePullSecrets', 'nodeSelector', 'tolerations', 'topologySpreadConstraints', 'priorityClassName']),
    );
  });

  test('no sample pins the relay image, so the relays follow the operator\'s version', () => {
    for (const file of ['outboxrelay.yaml', 'outboxrelay-platform-stream.yaml', 'outboxrelay-pod-template.yaml']) {
      expect([file, (load(file) as OutboxRelayResource).spec.image]).toEqual([file, undefined]);
    }
  });
});
