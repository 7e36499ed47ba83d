import fs from 'node:fs';
import YAML from 'yaml';
import { loadConfig, operatorEnvSchema } from '../../services/operator/src/config';
import { RELAY_UID } from '../../services/operator/src/reconcile/pod-template';
import { renderChart, runHelm } from './support/helm';
import { findObject, onlyContainer, podTemplateOf, resolveEnv, selects, type KubeObject } from './support/kube-objects';
import { readManifests, validateObject } from './support/kube-schemas';
import { fromRoot } from './support/paths';

const CHART = 'helm/outbox-relay-operator';
const RELEASE = 'ops';
const NAMESPACE = 'outbox-relay-system';
const FULLNAME = 'ops-outbox-relay-operator';

const render = (set: Record<string, string | number | boolean> = {}) => renderChart(CHART, { release: RELEASE, namespace: NAMESPACE, set });

/** The environment the operator process would read in this Deployment's pod. */
function operatorEnv(objects: KubeObject[]): Record<string, string> {
  const container = onlyContainer(findObject(objects, 'Deployment'));
  return resolveEnv(container.env, { fields: { 'metadata.name': `${FULLNAME}-7d9f-abcde`, 'metadata.namespace': NAMESPACE } });
}

const deployRbac = readManifests('deploy/rbac.yaml');
const deployClusterRole = findObject(deployRbac, 'ClusterRole');
const deployLeaderRole = findObject(deployRbac, 'Role');

describe('helm/outbox-relay-operator', () => {
  test('helm lint --strict passes', () => {
    const run = runHelm(['lint', '--strict', fromRoot(CHART)]);
    expect(run.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(run.status).toBe(0);
  });

  test.each([
    ['defaults', {}],
    ['namespace scope', { 'watch.scope': 'namespace', 'watch.namespace': 'shop' }],
    ['one replica without leader election', { 'leaderElection.enabled': false, replicaCount: 1 }],
    ['no metrics Service, existing ServiceAccount, no RBAC', { 'metrics.service.enabled': false, 'serviceAccount.create': false, 'serviceAccount.name': 'ops-sa', 'rbac.create': false }],
  ])('every object rendered with %s is a valid Kubernetes object', (_name, set) => {
    const objects = render(set);
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) expect(() => validateObject(object)).not.toThrow();
  });

  test('the defaults: the CRD, a hardened 2-replica Deployment of the image, its ServiceAccount, cluster RBAC and the aggregated roles, a metrics Service, a PDB', () => {
    const objects = render();
    expect(objects.map((o) => o.kind).sort()).toEqual(
      ['CustomResourceDefinition', 'ClusterRole', 'ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'Deployment', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount'].sort(),
    );
    const deployment = findObject(objects, 'Deployment', FULLNAME);
    const pod = podTemplateOf(deployment).spec!;
    const container = onlyContainer(deployment);
    const appVersion = YAML.parse(fs.readFileSync(fromRoot(CHART, 'Chart.yaml'), 'utf8')).appVersion;
    expect(deployment.spec.replicas).toBe(2);
    expect(container.image).toBe(`ghcr.io/outbox-relay/outbox-relay:${appVersion}`);
    // The image's entry point for the operator, which `npm run build` produces (and the Dockerfile copies).
    expect(container.command).toEqual(['node', 'services/operator/dist/main.js']);
    expect(container.workingDir).toBe('/app');
    expect(fs.existsSync(fromRoot('services/operator/dist/main.js'))).toBe(true);
    expect(pod.serviceAccountName).toBe(FULLNAME);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: RELAY_UID, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(container.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
    expect(container.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(findObject(objects, 'PodDisruptionBudget').spec.minAvailable).toBe(1);
  });

  test("the Deployment's environment is accepted by the operator's own configuration loader", () => {
    const env = operatorEnv(render());
    // A misspelled variable would be ignored silently by zod: every name must be one the operator reads.
    expect(Object.keys(env).filter((name) => !(name in operatorEnvSchema.shape))).toEqual([]);
    const config = loadConfig(env);
    expect(config.watchNamespace).toBeUndefined();
    expect(config.leaderElection).toEqual({
      namespace: NAMESPACE,
      leaseName: FULLNAME,
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2000,
    });
    expect(config).toMatchObject({ httpPort: 8080, logLevel: 'info', resyncMs: 30_000, relistMs: 300_000, workers: 2, probeTimeoutMs: 1000 });
    expect(config.identity).toBe(`${FULLNAME}-7d9f-abcde`);
  });

  test('values reach the operator: log level, timings, watched namespace, lease', () => {
    const env = operatorEnv(
      render({
        logLevel: 'debug',
        'watch.scope': 'namespace',
        'watch.namespace': 'shop',
        'leaderElection.leaseName': 'my-lease',
        'leaderElection.leaseDurationMs': 20_000,
        'reconcile.workers': 4,
        'reconcile.kubeApiTimeoutMs': 4000,
        httpPort: 9090,
      }),
    );
    const config = loadConfig(env);
    expect(config).toMatchObject({ logLevel: 'debug', watchNamespace: 'shop', workers: 4, httpPort: 9090, apiTimeoutMs: 4000 });
    expect(config.leaderElection).toMatchObject({ leaseName: 'my-lease', leaseDurationMs: 20_000, namespace: NAMESPACE });
  });

  test('leaderElection.enabled=false turns it off in the process and drops the Lease Role', () => {
    const objects = render({ 'leaderElection.enabled': false, replicaCount: 1 });
    expect(loadConfig(operatorEnv(objects)).leaderElection).toBeUndefined();
    expect(objects.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding')).toEqual([]);
    expect(objects.filter((o) => o.kind === 'PodDisruptionBudget')).toEqual([]);
  });

  test.each([
    ['defaults', {}],
    ['a nameOverride', { nameOverride: 'relay-ops' }],
  ])("the operator knows its own pods (%s): the relays' NetworkPolicies let in exactly the pods of this Deployment", (_name, set) => {
    const objects = render(set);
    const operatorPods = loadConfig(operatorEnv(objects)).operatorPods;
    expect(operatorPods?.namespace).toBe(NAMESPACE);
    const podLabels = podTemplateOf(findObject(objects, 'Deployment')).metadata?.labels ?? {};
    expect(Object.entries(operatorPods!.labels).every(([k, v]) => podLabels[k] === v)).toBe(true);
    // Not the relays' pods: those carry app.kubernetes.io/name=outbox-relay.
    expect(operatorPods!.labels['app.kubernetes.io/name']).not.toBe('outbox-relay');
  });

  describe('RBAC is the same as deploy/rbac.yaml', () => {
    test('cluster scope: the ClusterRole has exactly the rules of deploy/rbac.yaml, bound to the ServiceAccount', () => {
      const objects = render();
      const clusterRole = findObject(objects, 'ClusterRole', FULLNAME);
      expect(clusterRole.rules).toEqual(deployClusterRole.rules);
      const binding = findObject(objects, 'ClusterRoleBinding', FULLNAME);
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: FULLNAME });
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: FULLNAME, namespace: NAMESPACE }]);
    });

    test('the leader-election Role has the rules of deploy/rbac.yaml, in the release namespace', () => {
      const objects = render();
      const role = findObject(objects, 'Role', `${FULLNAME}-leader-election`);
      expect(role.metadata.namespace).toBe(NAMESPACE);
      expect(role.rules).toEqual(deployLeaderRole.rules);
      const binding = findObject(objects, 'RoleBinding', `${FULLNAME}-leader-election`);
      expect(binding.metadata.namespace).toBe(NAMESPACE);
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${FULLNAME}-leader-election` });
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: FULLNAME, namespace: NAMESPACE }]);
    });

    test('namespace scope: the same rules as a Role in the watched namespace only, nothing cluster-wide granted to the operator', () => {
      const objects = render({ 'watch.scope': 'namespace', 'watch.namespace': 'shop' });
      // The aggregated view/edit ClusterRoles are for people and bound to nobody (operator-chart-options.test.ts).
      expect(objects.filter((o) => o.kind === 'ClusterRoleBinding')).toEqual([]);
      expect(objects.filter((o) => o.kind === 'ClusterRole').map((o) => o.metadata.name)).toEqual([`${FULLNAME}-outboxrelays-view`, `${FULLNAME}-outboxrelays-edit`]);
      const role = findObject(objects, 'Role', FULLNAME);
      expect(role.metadata.namespace).toBe('shop');
      expect(role.rules).toEqual(deployClusterRole.rules);
      const binding = findObject(objects, 'RoleBinding', FULLNAME);
      expect(binding.metadata.namespace).toBe('shop');
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: FULLNAME, namespace: NAMESPACE }]);
      expect(loadConfig(operatorEnv(objects)).watchNamespace).toBe('shop');
    });

    test('namespace scope without watch.namespace watches the release namespace', () => {
      const objects = render({ 'watch.scope': 'namespace' });
      expect(findObject(objects, 'Role', FULLNAME).metadata.namespace).toBe(NAMESPACE);
      expect(loadConfig(operatorEnv(objects)).watchNamespace).toBe(NAMESPACE);
    });

    test('serviceAccount.create=false uses the named account everywhere; rbac.create=false renders no RBAC', () => {
      const withAccount = render({ 'serviceAccount.create': false, 'serviceAccount.name': 'ops-sa' });
      expect(withAccount.filter((o) => o.kind === 'ServiceAccount')).toEqual([]);
      expect(podTemplateOf(findObject(withAccount, 'Deployment')).spec!.serviceAccountName).toBe('ops-sa');
      for (const binding of withAccount.filter((o) => o.kind.endsWith('Binding'))) {
        expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'ops-sa', namespace: NAMESPACE }]);
      }
      const noRbac = render({ 'rbac.create': false });
      expect(noRbac.filter((o) => o.apiVersion.startsWith('rbac.authorization.k8s.io'))).toEqual([]);
    });
  });

  test('the metrics Service selects the operator pods and targets their http port', () => {
    const objects = render();
    const service = findObject(objects, 'Service', `${FULLNAME}-metrics`);
    const deployment = findObject(objects, 'Deployment');
    expect(selects(service.spec.selector, podTemplateOf(deployment).metadata?.labels)).toBe(true);
    expect(selects(deployment.spec.selector.matchLabels, podTemplateOf(deployment).metadata?.labels)).toBe(true);
    expect(service.spec.ports).toEqual([{ name: 'http-metrics', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
    expect(onlyContainer(deployment).ports?.map((p) => p.name)).toContain('http');
    expect(podTemplateOf(deployment).metadata?.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080' });
    expect(render({ 'metrics.service.enabled': false }).filter((o) => o.kind === 'Service')).toEqual([]);
  });

  test('image: tag and digest values', () => {
    const image = (set: Record<string, string>) => onlyContainer(findObject(render(set), 'Deployment')).image;
    expect(image({ 'image.repository': 'outbox-relay', 'image.tag': 'kind' })).toBe('outbox-relay:kind');
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(image({ 'image.digest': digest })).toBe(`ghcr.io/outbox-relay/outbox-relay@${digest}`);
  });

  test('the kind demo values (deploy/kind/operator-values.yaml) render valid objects with the locally loaded image', () => {
    const objects = renderChart(CHART, { release: 'outbox-relay-operator', namespace: NAMESPACE, valuesFiles: ['deploy/kind/operator-values.yaml'] });
    for (const object of objects) expect(() => validateObject(object)).not.toThrow();
    const container = onlyContainer(findObject(objects, 'Deployment', 'outbox-relay-operator'));
    expect(container).toMatchObject({ image: 'outbox-relay:kind', imagePullPolicy: 'Never' });
  });

  test('NOTES.txt tells what to do next: the Secret, an OutboxRelay, kubectl get obr, kubectl scale obr', () => {
    const run = runHelm(['install', 'ops', fromRoot(CHART), '--dry-run=client', '--namespace', NAMESPACE]);
    expect(run.status).toBe(0);
    const notes = run.stdout.slice(run.stdout.indexOf('NOTES:'));
    expect(notes).toContain(`rollout status deployment/${FULLNAME}`);
    expect(notes).toContain('create secret generic');
    expect(notes).toContain('kind: OutboxRelay');
    expect(notes).toContain('get obr');
    expect(notes).toContain('scale obr/orders-relay --replicas=3');
  });
});
