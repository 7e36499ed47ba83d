import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { testNeeding } from '@outbox-relay/test-support';
import { outboxRelayCrd } from '../../src/api/crd';
import { validateManifest } from './k8s-models';

const withKubectl = testNeeding('kubectl');

const repoRoot = path.resolve(__dirname, '../../../..');

describe('deploy/ kustomization', () => {
  test('lists the CRD, RBAC and the operator', () => {
    const kustomization = YAML.parse(fs.readFileSync(path.join(repoRoot, 'deploy/kustomization.yaml'), 'utf8'));
    expect(kustomization.resources).toEqual(['crd/outboxrelays.yaml', 'rbac.yaml', 'operator.yaml']);
  });

  withKubectl('`kubectl kustomize deploy` builds, and every object in it is a valid Kubernetes object', () => {
    const built = execFileSync('kubectl', ['kustomize', path.join(repoRoot, 'deploy')], { encoding: 'utf8', timeout: 30_000 });
    const objects = YAML.parseAllDocuments(built).map((d) => d.toJS());
    for (const object of objects) expect(() => validateManifest(object)).not.toThrow();
    const crd = objects.find((o) => o.kind === 'CustomResourceDefinition');
    expect(crd).toEqual(outboxRelayCrd);
    expect(objects.map((o) => o.kind)).toEqual(expect.arrayContaining(['Deployment', 'ServiceAccount']));
  });
});
