/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { outboxRelayCrd } from '../../src/api/crd';
import { FakeKubeApi, type RecordedRequest } from '../support/fake-kube-api';
import { FakeRelays } from '../support/fake-relays';
import { type ClientNodeGlobal } from '../support/kube';
import { OPERATOR_NAMESPACE, operatorReplica } from '../support/operators';
import { relayDatabaseSecret, relayManifest, relayPod, setReady } from '../support/relays';
import { waitFor } from '@outbox-relay/test-support';

const repoRoot = path.resolve(__dirname, '../../../..');
const ns = 'shop';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
interface RbacObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: Array<{ kind: string; name: string; namespace?: string }>;
}

/** "group|resource[/subresource]|verb" */
const permission = (group: string, resource: string, verb: string) => `${group}|${resource}|${verb}`;
const expand = (rules: Rule[] = []) =>
  rules.flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => permission(g, res, v)))));

/** What each request needs: its verb on its resource, and `create` as well when a server-side apply created. */
function needed(r: RecordedRequest): string[] {
  const resource = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
  return [permission(r.group, resource, r.verb), ...(r.applyCreated ? [permission(r.group, resource, 'create')] : [])];
}

/**
 * Runs one operator replica through a whole life against the fake API server (lead, create children and the
 * admin Secret, turn the NetworkPolicy on and off, start a partition-count Job, write status, record events, annotate
 * the leader pod, evict a stalled leader, hand the Lease back) and checks deploy/rbac.yaml
 * against every request it made: nothing it needs is missing, nothing granted goes unused.
 */
describe('deploy/rbac.yaml', () => {
  const rbac = YAML.parseAllDocuments(fs.readFileSync(path.join(repoRoot, 'deploy/rbac.yaml'), 'utf8')).map((d) => d.toJS() as RbacObject);
  const operatorManifests = YAML.parseAllDocuments(fs.readFileSync(path.join(repoRoot, 'deploy/operator.yaml'), 'utf8')).map((d) => d.toJS());
  const clusterRole = rbac.find((o) => o.kind === 'ClusterRole')!;
  const role = rbac.find((o) => o.kind === 'Role')!;
  let requests: RecordedRequest[];

  beforeAll(async () => {
    const api = await FakeKubeApi.start({ crds: [outboxRelayCrd] });
    const relays = new FakeRelays();
    const { operator, metrics } = operatorReplica(api, relays, 'operator-a');
    try {
      operator.start();
      api.create(relayDatabaseSecret(ns));
      // partitionCount: 2 while the relay reports 1: a partition-count Job is listed for and started.
      api.create(relayManifest('orders', ns, { failoverDelaySeconds: 1, partitionCount: 2, networkPolicy: { enabled: true } }));
      await waitFor('the Deployment', () => api.get('apps/v1', 'Deployment', ns, 'orders'));
      await waitFor('the admin Secret', () => api.get('v1', 'Secret', ns, 'orders-relay-admin'));
      await waitFor('the NetworkPolicy', () => api.get('networking.k8s.io/v1', 'NetworkPolicy', ns, 'orders'));
      api.update('outbox-relay.dev/v1alpha1', 'OutboxRelay', ns, 'orders', (r) => void ((r.spec as { networkPolicy: object }).networkPolicy = { enabled: false }));
      await waitFor('the NetworkPolicy deleted', () => !api.get('networking.k8s.io/v1', 'NetworkPolicy', ns, 'orders'));
      await relays.add('orders-a', true, 2);
      const pod = relayPod('orders', ns, 'orders-a', '10.0.0.1');
      setReady(pod, true);
      api.create(pod);
      await waitFor('the partition-count Job', () => api.get('batch/v1', 'Job', ns, 'orders-partitions-1'));
      await waitFor('a leader in the status', () => (api.get('outbox-relay.dev/v1alpha1', 'OutboxRelay', ns, 'orders')?.status as { currentLeader?: string })?.currentLeader);
      await waitFor('the leader annotated with its deletion cost', () => (api.get('v1', 'Pod', ns, 'orders-a')?.metadata as { annotations?: object })?.annotations);
      api.updateDisruptionBudgets(ns);
      relays.stall('orders-a');
      await waitFor('the stalled leader evicted', async () => (await metrics.value(metrics.actions, { kind: 'EvictPod', outcome: 'done' })) === 1);
    } finally {
      await operator.stop();
      await relays.closeAll();
      await api.close();
    }
    requests = api.requests.filter((r) => r.resource !== '');
  });

  test('grants every permission the operator used', () => {
    const cluster = new Set(expand(clusterRole.rules));
    const inOperatorNamespace = new Set(expand(role.rules));
    const missing = requests.filter((r) =>
      needed(r).some((p) => !cluster.has(p) && !(r.namespace === role.metadata.namespace && inOperatorNamespace.has(p))),
    );
    expect(missing.map((r) => `${r.verb} ${r.group}/${r.resource}${r.subresource ? '/' + r.subresource : ''} in ${r.namespace ?? '(cluster)'}`)).toEqual([]);
  });

  test('grants nothing the operator did not use (except what only admission checks)', () => {
    const used = new Set(requests.flatMap(needed));
    // Admission (OwnerReferencesPermissionEnforcement) checks this for blockOwnerDeletion; no request uses it.
    const admissionOnly = [permission('outbox-relay.dev', 'outboxrelays/finalizers', 'update')];
    const unused = [...expand(clusterRole.rules), ...expand(role.rules)].filter((p) => !used.has(p) && !admissionOnly.includes(p));
    expect(unused).toEqual([]);
  });

  test('leases are only touched in the operator namespace, which the Role covers', () => {
    const leaseRequests = requests.filter((r) => r.resource === 'leases');
    expect(leaseRequests.length).toBeGreaterThan(0);
    expect(new Set(leaseRequests.map((r) => r.namespace))).toEqual(new Set([OPERATOR_NAMESPACE]));
    expect(role.metadata.namespace).toBe(OPERATOR_NAMESPACE);
    expect(expand(role.rules).every((p) => p.startsWith('coordination.k8s.io|leases|'))).toBe(true);
  });

  test("bindings give the roles to the operator Deployment's service account", () => {
    const deployment = operatorManifests.find((o) => o.kind === 'Deployment');
    const account = operatorManifests.find((o) => o.kind === 'ServiceAccount');
    expect(deployment.spec.template.spec.serviceAccountName).toBe(account.metadata.name);
    for (const binding of rbac.filter((o) => o.kind.endsWith('Binding'))) {
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: account.metadata.name, namespace: account.metadata.namespace }]);
      expect(rbac.some((o) => o.kind === binding.roleRef?.kind && o.metadata.name === binding.roleRef.name)).toBe(true);
    }
  });
});
