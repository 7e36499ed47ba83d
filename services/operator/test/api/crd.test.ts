import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { outboxRelayCrd, openAPIV3Schema } from '../../src/api/crd';
import { SPEC_RULES } from '../../src/api/rules';
import { withDefaults } from '../../src/api/defaults';
import { validateManifest } from '../manifests/k8s-models';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- shared with the generator script (plain JS)
const { renderCrdYaml } = require('../../scripts/crd-yaml.cjs') as { renderCrdYaml: (crd: unknown) => string };

const repoRoot = path.resolve(__dirname, '../../../..');
const crdFile = path.join(repoRoot, 'deploy/crd/outboxrelays.yaml');
const version = outboxRelayCrd.spec.versions[0];

describe('the OutboxRelay CRD', () => {
  test('is a valid apiextensions.k8s.io/v1 CustomResourceDefinition', () => {
    expect(() => validateManifest(outboxRelayCrd)).not.toThrow();
  });

  test('names: outboxrelays.outbox-relay.dev, kind OutboxRelay, short name obr, namespaced, one served+stored version', () => {
    expect(outboxRelayCrd.metadata.name).toBe('outboxrelays.outbox-relay.dev');
    expect(outboxRelayCrd.spec.scope).toBe('Namespaced');
    expect(outboxRelayCrd.spec.names).toMatchObject({ kind: 'OutboxRelay', plural: 'outboxrelays', shortNames: ['obr'] });
    expect(outboxRelayCrd.spec.versions).toHaveLength(1);
    expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true });
  });

  test('status and scale subresources, the scale one wired to spec.replicas / status.replicas / status.selector', () => {
    expect(version?.subresources).toEqual({
      status: {},
      scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
    });
    expect(openAPIV3Schema.properties?.status?.properties?.selector?.type).toBe('string');
  });

  test('printer columns Replicas, Ready, Leader, Status (the Ready condition\'s reason), Age', () => {
    const columns = (version?.additionalPrinterColumns ?? []).filter((c) => !('priority' in c));
    expect(columns.map((c) => [c.name, c.jsonPath])).toEqual([
      ['Replicas', '.spec.replicas'],
      ['Ready', '.status.readyReplicas'],
      ['Leader', '.status.currentLeader'],
      ['Status', '.status.conditions[?(@.type=="Ready")].reason'],
      ['Age', '.metadata.creationTimestamp'],
    ]);
  });

  test('no phase anywhere in the status; conditions follow metav1.Condition', () => {
    const status = openAPIV3Schema.properties?.status;
    expect(Object.keys(status?.properties ?? {})).not.toContain('phase');
    expect(status?.properties?.conditions?.items?.required).toEqual(['type', 'status', 'reason', 'message', 'lastTransitionTime']);
    expect(status?.properties?.conditions?.['x-kubernetes-list-map-keys']).toEqual(['type']);
  });

  test('each CEL rule says the same as its TypeScript predicate, on both sides of its boundary', () => {
    // The rules use only integer arithmetic and comparisons on self.<path>, which JavaScript evaluates the same way.
    const grid = [100, 200, 499, 500, 501, 1000, 1999, 2000, 2001, 5000, 60_000];
    for (const rule of SPEC_RULES) {
      const cel = new Function('self', `return (${rule.cel});`) as (self: unknown) => boolean;
      for (const leaseDurationMs of grid) {
        for (const renewIntervalMs of grid) {
          for (const duplicateWindowSeconds of [1, 2, 5, 19, 20, 21, 600]) {
            const spec = withDefaults({ leaseDurationMs, renewIntervalMs, nats: { url: 'nats://n:1', duplicateWindowSeconds } });
            expect([rule.cel, spec, cel(spec)]).toEqual([rule.cel, spec, rule.holds(spec)]);
          }
        }
      }
      expect(version?.schema.openAPIV3Schema.properties?.spec?.['x-kubernetes-validations']).toContainEqual(
        expect.objectContaining({ rule: rule.cel, fieldPath: `.${rule.field}` }),
      );
    }
  });

  test('deploy/crd/outboxrelays.yaml is generated from this source and has not drifted', () => {
    const committed = fs.readFileSync(crdFile, 'utf8');
    // If this fails: node services/operator/scripts/gen-crd.mjs
    expect(committed).toBe(renderCrdYaml(outboxRelayCrd));
    expect(YAML.parse(committed)).toEqual(JSON.parse(JSON.stringify(outboxRelayCrd)));
  });
});
