import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getJson, startService, type ServiceProcess, waitFor } from '@outbox-relay/test-support';
import { outboxRelayCrd } from '../../src/api/crd';
import { FakeKubeApi, type JsonObject } from '../support/fake-kube-api';
import { relayDatabaseSecret, relayManifest } from '../support/relays';

const MAIN = 'services/operator/dist/main.js';

/**
 * The built operator as a real Node process (the way the image runs it), against the fake API server. This is
 * also the one place where client-node is loaded the production way (require of an ES module by Node itself),
 * not through the jest environment.
 */
describe('outbox-operator process', () => {
  let api: FakeKubeApi;
  let dir: string;
  let proc: ServiceProcess | undefined;

  beforeEach(async () => {
    api = await FakeKubeApi.start({ crds: [outboxRelayCrd] });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'operator-'));
    const kubeconfig = [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: fake, cluster: {server: "${api.url}", insecure-skip-tls-verify: true}}]`,
      'users: [{name: test, user: {}}]',
      'contexts: [{name: fake, context: {cluster: fake, user: test}}]',
      'current-context: fake',
    ].join('\n');
    fs.writeFileSync(path.join(dir, 'kubeconfig'), kubeconfig);
  });
  afterEach(async () => {
    await proc?.stop('SIGKILL');
    proc = undefined;
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('serves health, readiness and metrics, reconciles as the leader, and hands the Lease back on SIGTERM', async () => {
    proc = startService(MAIN, {
      KUBECONFIG: path.join(dir, 'kubeconfig'),
      POD_NAME: 'operator-0',
      POD_NAMESPACE: 'outbox-relay-system',
      OPERATOR_HTTP_PORT: '0',
      LEADER_ELECTION_LEASE_DURATION_MS: '2000',
      LEADER_ELECTION_RENEW_DEADLINE_MS: '1500',
      LEADER_ELECTION_RETRY_PERIOD_MS: '200',
      LOG_LEVEL: 'info',
    });
    const started = await waitFor('the started log line', () => proc!.logs.find((l) => l.msg === 'operator started'), 15_000);
    const base = `http://127.0.0.1:${String(started.port)}`;
    // getJson gives up after 300 ms; a loaded machine may need more for the first answer.
    await waitFor('/healthz ok', () => getJson<{ status: string }>(`${base}/healthz`).then((r) => r?.status === 'ok'));
    await waitFor('ready as the leader', () => getJson<{ leader: boolean }>(`${base}/readyz`).then((r) => r?.leader === true));

    api.create(relayDatabaseSecret('shop'));
    api.create(relayManifest('orders', 'shop'));
    await waitFor('the Deployment', () => api.get('apps/v1', 'Deployment', 'shop', 'orders'));
    const metrics = await waitFor('a counted reconcile', async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return text.includes('outbox_operator_reconciles_total{result="success"}') && text;
    });
    expect(metrics).toContain('outbox_operator_leader 1');

    await expect(proc.stop('SIGTERM')).resolves.toBe(0);
    const lease = api.get('coordination.k8s.io/v1', 'Lease', 'outbox-relay-system', 'outbox-relay-operator')?.spec as JsonObject;
    expect(lease.holderIdentity).toBe('');
  });

  test('exits with status 2 naming every bad variable', async () => {
    proc = startService(MAIN, { KUBECONFIG: path.join(dir, 'kubeconfig'), WORKERS: '0', OPERATOR_HTTP_PORT: 'eighty', LEADER_ELECTION: 'true', POD_NAMESPACE: 'ops' });
    await expect(proc.exited).resolves.toBe(2);
    expect(proc.stderr()).toMatch(/WORKERS/);
    expect(proc.stderr()).toMatch(/OPERATOR_HTTP_PORT/);
  });
});
