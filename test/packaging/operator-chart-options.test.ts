/**
 * helm/outbox-relay-operator: the aggregated view/edit ClusterRoles for people, and the operator pod's placement
 * and security values.
 */
import fs from 'node:fs';
import YAML from 'yaml';
import type { V1PodTemplateSpec } from '../../services/operator/src/api/k8s-types';
import { renderChart } from './support/helm';
import { findObject, onlyContainer, podTemplateOf, type KubeObject } from './support/kube-objects';
import { validateObject } from './support/kube-schemas';
import { fromRoot } from './support/paths';

type V1PodSpec = NonNullable<V1PodTemplateSpec['spec']>;

const CHART = 'helm/outbox-relay-operator';
const FULLNAME = 'ops-outbox-relay-operator';
const render = (set: Record<string, string | number | boolean> = {}, valuesFiles: string[] = []) =>
  renderChart(CHART, { release: 'ops', namespace: 'outbox-relay-system', set, valuesFiles });

const crd = YAML.parse(fs.readFileSync(fromRoot('deploy/crd/outboxrelays.yaml'), 'utf8')) as KubeObject;
const GROUP: string = crd.spec.group;
const PLURAL: string = crd.spec.names.plural;
const READ = ['get', 'list', 'watch'];

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
/** Every (resource, verb) pair a ClusterRole grants in the CRD's group, as "resource:verb". */
const grants = (role: KubeObject) =>
  (role.rules as Rule[]).filter((r) => r.apiGroups.includes(GROUP)).flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${res}:${v}`)));

describe('aggregated ClusterRoles: view and edit of OutboxRelays for whoever may view or edit a namespace', () => {
  const objects = render();
  const view = findObject(objects, 'ClusterRole', `${FULLNAME}-outboxrelays-view`);
  const edit = findObject(objects, 'ClusterRole', `${FULLNAME}-outboxrelays-edit`);

  test('both are valid ClusterRoles, bound to nobody: the built-in roles aggregate them', () => {
    for (const role of [view, edit]) expect(() => validateObject(role)).not.toThrow();
    const bound = objects.filter((o) => o.kind.endsWith('Binding')).map((b) => b.roleRef.name);
    expect(bound).not.toContain(view.metadata.name);
    expect(bound).not.toContain(edit.metadata.name);
  });

  test('view goes into view, edit and admin; edit into edit and admin only (a viewer gets no write)', () => {
    const aggregation = (role: KubeObject) =>
      Object.entries(role.metadata.labels ?? {})
        .filter(([key, value]) => key.startsWith('rbac.authorization.k8s.io/aggregate-to-') && value === 'true')
        .map(([key]) => key.slice('rbac.authorization.k8s.io/aggregate-to-'.length))
        .sort();
    expect(aggregation(view)).toEqual(['admin', 'edit', 'view']);
    expect(aggregation(edit)).toEqual(['admin', 'edit']);
  });

  test("view reads the CRD's resource, status and scale; edit writes the resource and its scale, never the operator's status", () => {
    const subresources = Object.keys(crd.spec.versions.find((v: { storage: boolean }) => v.storage).subresources).sort();
    expect(subresources).toEqual(['scale', 'status']);
    expect(grants(view).sort()).toEqual([PLURAL, `${PLURAL}/scale`, `${PLURAL}/status`].flatMap((res) => READ.map((v) => `${res}:${v}`)).sort());
    expect(grants(edit).sort()).toEqual(
      [...['create', 'update', 'patch', 'delete', 'deletecollection'].map((v) => `${PLURAL}:${v}`), `${PLURAL}/scale:update`, `${PLURAL}/scale:patch`].sort(),
    );
    expect(grants(edit).some((g) => g.startsWith(`${PLURAL}/status`))).toBe(false);
  });

  test('rbac.aggregateClusterRoles=false or rbac.create=false renders neither', () => {
    const names = (o: KubeObject[]) => o.filter((x) => x.kind === 'ClusterRole').map((x) => x.metadata.name);
    expect(names(render({ 'rbac.aggregateClusterRoles': false }))).toEqual([FULLNAME]);
    expect(names(render({ 'rbac.create': false }))).toEqual([]);
  });
});

/**
 * What the Pod Security Standards' restricted profile (Kubernetes 1.25+) requires of a pod, for the fields a pod of
 * this chart can set: https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted.
 */
function restrictedViolations(pod: V1PodSpec): string[] {
  const out: string[] = [];
  const podContext = pod.securityContext ?? {};
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) out.push('host namespaces');
  for (const volume of pod.volumes ?? []) {
    const kinds = Object.keys(volume).filter((k) => k !== 'name');
    const allowed = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
    if (!kinds.every((k) => allowed.includes(k))) out.push(`volume ${volume.name}: ${kinds.join(',')}`);
  }
  if (podContext.runAsUser === 0) out.push('pod runAsUser 0');
  for (const c of [...pod.initContainers ?? [], ...pod.containers]) {
    const sc = c.securityContext ?? {};
    if (sc.privileged) out.push(`${c.name}: privileged`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${c.name}: allowPrivilegeEscalation is not false`);
    if (!sc.capabilities?.drop?.includes('ALL')) out.push(`${c.name}: capabilities do not drop ALL`);
    if ((sc.capabilities?.add ?? []).some((cap) => cap !== 'NET_BIND_SERVICE')) out.push(`${c.name}: adds capabilities`);
    if ((sc.runAsNonRoot ?? podContext.runAsNonRoot) !== true) out.push(`${c.name}: runAsNonRoot is not true`);
    if (sc.runAsUser === 0) out.push(`${c.name}: runAsUser 0`);
    const seccomp = (sc.seccompProfile ?? podContext.seccompProfile)?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`${c.name}: seccompProfile ${seccomp ?? 'unset'}`);
    if ((c.ports ?? []).some((p) => p.hostPort)) out.push(`${c.name}: hostPort`);
  }
  return out;
}

describe('the operator pod: security contexts and placement from values', () => {
  const podOf = (objects: KubeObject[]) => podTemplateOf(findObject(objects, 'Deployment', FULLNAME));

  test('the defaults meet the restricted profile, with a read-only root file system', () => {
    const deployment = findObject(render(), 'Deployment', FULLNAME);
    expect(restrictedViolations(podTemplateOf(deployment).spec!)).toEqual([]);
    expect(onlyContainer(deployment).securityContext?.readOnlyRootFilesystem).toBe(true);
  });

  test('the restricted check sees a value that breaks the profile (so the test above means something)', () => {
    const pod = podOf(render({ 'securityContext.allowPrivilegeEscalation': true, 'podSecurityContext.seccompProfile.type': 'Unconfined' })).spec!;
    expect(restrictedViolations(pod)).toEqual(['operator: allowPrivilegeEscalation is not false', 'operator: seccompProfile Unconfined']);
  });

  test('every placement and security value reaches the pod, and the objects stay valid', () => {
    const file = 'test/packaging/fixtures/operator-pod-values.yaml';
    const values = YAML.parse(fs.readFileSync(fromRoot(file), 'utf8'));
    const objects = render({}, [file]);
    for (const object of objects) expect(() => validateObject(object)).not.toThrow();
    const template = podOf(objects);
    const pod = template.spec!;
    expect(pod.nodeSelector).toEqual(values.nodeSelector);
    expect(pod.tolerations).toEqual(values.tolerations);
    expect(pod.affinity).toEqual(values.affinity);
    expect(pod.topologySpreadConstraints).toEqual(values.topologySpreadConstraints);
    expect(pod.priorityClassName).toBe(values.priorityClassName);
    expect(template.metadata?.annotations).toMatchObject(values.podAnnotations);
    expect(template.metadata?.labels).toMatchObject(values.podLabels);
    // Values merge into the defaults: the rest of the restricted profile stays.
    expect(pod.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 20000, runAsGroup: 20000, fsGroup: 20000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(onlyContainer(findObject(objects, 'Deployment', FULLNAME)).securityContext).toMatchObject({ seccompProfile: { type: 'RuntimeDefault' }, capabilities: { drop: ['ALL'] } });
    expect(restrictedViolations(pod)).toEqual([]);
  });

  test('without topologySpreadConstraints or affinity values, the pod spreads over nodes by anti-affinity and has no constraints', () => {
    const pod = podOf(render()).spec!;
    expect(pod.topologySpreadConstraints).toBeUndefined();
    expect(pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
  });
});
