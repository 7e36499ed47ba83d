import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { testNeeding } from '@outbox-relay/test-support';
import { renderChart, runHelm } from './support/helm';
import { findObject, type KubeObject } from './support/kube-objects';
import { validateObject } from './support/kube-schemas';
import { fromRoot } from './support/paths';

const withKubectl = testNeeding('kubectl');

const SOURCE_CRD = 'deploy/crd/outboxrelays.yaml';
const CHART = 'helm/outbox-relay-operator';
const CHART_CRD = `${CHART}/files/crd/outboxrelays.yaml`;
const CRD_NAME = 'outboxrelays.outbox-relay.dev';

describe('one CRD: the chart ships deploy/crd/outboxrelays.yaml unchanged', () => {
  test('helm/outbox-relay-operator/files/crd/outboxrelays.yaml is byte-for-byte deploy/crd/outboxrelays.yaml (fix: scripts/sync-chart-crd.sh)', () => {
    const source = fs.readFileSync(fromRoot(SOURCE_CRD), 'utf8');
    const copy = fs.readFileSync(fromRoot(CHART_CRD), 'utf8');
    expect(copy === source).toBe(true);
  });

  test('templates/crd.yaml renders that CRD, with the release labels and helm.sh/resource-policy: keep, a valid CustomResourceDefinition', () => {
    const source = YAML.parse(fs.readFileSync(fromRoot(SOURCE_CRD), 'utf8')) as KubeObject;
    const crd = findObject(renderChart(CHART, { release: 'ops' }), 'CustomResourceDefinition', CRD_NAME);
    const { metadata, ...rest } = crd;
    const { metadata: sourceMetadata, ...sourceRest } = source;
    // Everything but labels and annotations exactly as generated (the template reads the file as data).
    expect(rest).toEqual(sourceRest);
    expect(metadata.name).toBe(sourceMetadata.name);
    expect(metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
    expect(metadata.labels).toMatchObject({ ...sourceMetadata.labels, 'app.kubernetes.io/instance': 'ops', 'app.kubernetes.io/managed-by': 'Helm' });
    expect(() => validateObject(crd)).not.toThrow();
  });

  test('crds.keep=false renders it without the keep policy; crds.create=false (a cluster admin owns the CRD) renders none', () => {
    const unkept = findObject(renderChart(CHART, { set: { 'crds.keep': false } }), 'CustomResourceDefinition', CRD_NAME);
    expect(unkept.metadata.annotations).toBeUndefined();
    expect(renderChart(CHART, { set: { 'crds.create': false } }).filter((o) => o.kind === 'CustomResourceDefinition')).toEqual([]);
  });

  test('the CRD is part of the release manifest, which `helm upgrade` applies; the chart has no crds/ folder, which Helm installs once and never upgrades', () => {
    expect(fs.existsSync(fromRoot(CHART, 'crds'))).toBe(false);
    const run = runHelm(['install', 'ops', fromRoot(CHART), '--dry-run=client', '--namespace', 'outbox-relay-system']);
    expect(run.status).toBe(0);
    // helm prints the release's manifest (what an upgrade compares and applies) between MANIFEST: and NOTES:.
    const manifest = run.stdout.slice(run.stdout.indexOf('MANIFEST:'), run.stdout.indexOf('NOTES:'));
    const kinds = YAML.parseAllDocuments(manifest.replace(/^MANIFEST:\n/, '')).map((d) => (d.toJS() as KubeObject | null)?.kind);
    expect(kinds).toContain('CustomResourceDefinition');
  });

  test('scripts/sync-chart-crd.sh --check fails on a drifted copy and the script repairs it', () => {
    // A scratch copy of the three files the script touches, so the real chart is never modified.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sync-crd-'));
    try {
      for (const file of ['scripts/sync-chart-crd.sh', SOURCE_CRD, CHART_CRD]) {
        fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
        fs.copyFileSync(fromRoot(file), path.join(root, file));
      }
      const script = path.join(root, 'scripts/sync-chart-crd.sh');
      expect(spawnSync('bash', [script, '--check'], { encoding: 'utf8' }).status).toBe(0);

      fs.appendFileSync(path.join(root, SOURCE_CRD), '# a regenerated CRD\n');
      const drifted = spawnSync('bash', [script, '--check'], { encoding: 'utf8' });
      expect(drifted.status).toBe(1);
      expect(drifted.stderr).toContain(`${CHART_CRD} differs from ${SOURCE_CRD}; run: scripts/sync-chart-crd.sh`);

      expect(spawnSync('bash', [script], { encoding: 'utf8' }).status).toBe(0);
      expect(fs.readFileSync(path.join(root, CHART_CRD), 'utf8')).toBe(fs.readFileSync(path.join(root, SOURCE_CRD), 'utf8'));
      expect(spawnSync('bash', [script, '--check'], { encoding: 'utf8' }).status).toBe(0);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('deploy/ (kubectl apply -k deploy)', () => {
  let objects: KubeObject[];
  beforeAll(() => {
    const built = execFileSync('kubectl', ['kustomize', fromRoot('deploy')], { encoding: 'utf8', timeout: 30_000 });
    objects = YAML.parseAllDocuments(built).map((d) => d.toJS() as KubeObject);
  });

  withKubectl('`kubectl kustomize deploy` builds the CRD, RBAC and the operator, each a valid Kubernetes object', () => {
    expect(objects.map((o) => o.kind)).toEqual(
      expect.arrayContaining(['CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'Namespace', 'ServiceAccount', 'Deployment']),
    );
    for (const object of objects) expect(() => validateObject(object)).not.toThrow();
  });

  withKubectl("deploy/'s operator and the chart's run the same entry point of the same image, as the same user", () => {
    const deployed = findObject(objects, 'Deployment');
    const charted = findObject(renderChart('helm/outbox-relay-operator'), 'Deployment');
    const container = (d: KubeObject) => d.spec.template.spec.containers[0];
    expect(container(charted).image).toBe(container(deployed).image);
    expect(container(charted).command).toEqual(container(deployed).command);
    expect(container(charted).workingDir).toBe(container(deployed).workingDir);
    expect(charted.spec.template.spec.securityContext.runAsUser).toBe(deployed.spec.template.spec.securityContext.runAsUser);
  });
});
