import fs from 'node:fs';
import { createLogger } from '@outbox-relay/runtime';
import path from 'node:path';
import YAML from 'yaml';
import { loadConfig } from '../../src/config';
import { createOperatorHttp } from '../../src/operator-http';
import { OperatorMetrics } from '../../src/metrics';
import type { OperatorHealth } from '../../src/operator';
import { validateManifest } from '../manifests/k8s-models';

const repoRoot = path.resolve(__dirname, '../../../..');
const manifests = YAML.parseAllDocuments(fs.readFileSync(path.join(repoRoot, 'deploy/operator.yaml'), 'utf8')).map((d) => d.toJS());
const deployment = manifests.find((o) => o.kind === 'Deployment');
const container = deployment.spec.template.spec.containers[0];

/** The container's env as the kubelet would resolve it for a pod named operator-xyz. */
function resolvedEnv(): Record<string, string> {
  const downward: Record<string, string> = { 'metadata.name': 'outbox-relay-operator-5d8f-xyz', 'metadata.namespace': deployment.metadata.namespace };
  return Object.fromEntries(
    (container.env as Array<{ name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }>).map((e) => [
      e.name,
      e.value ?? downward[e.valueFrom!.fieldRef.fieldPath]!,
    ]),
  );
}

describe('deploy/operator.yaml', () => {
  test('every object is a valid Kubernetes object', () => {
    expect(manifests.map((o) => o.kind)).toEqual(['Namespace', 'ServiceAccount', 'Deployment']);
    for (const object of manifests) expect(() => validateManifest(object)).not.toThrow();
  });

  test("its environment is a valid operator configuration: leader election in the pod's namespace, all namespaces watched", () => {
    const config = loadConfig(resolvedEnv());
    expect(config.identity).toBe('outbox-relay-operator-5d8f-xyz');
    expect(config.watchNamespace).toBeUndefined();
    expect(config.leaderElection?.namespace).toBe(deployment.metadata.namespace);
    // More than one replica is only safe with leader election.
    expect(deployment.spec.replicas).toBeGreaterThan(1);
    const http = container.ports.find((p: { name: string }) => p.name === 'http');
    expect(http.containerPort).toBe(config.httpPort);
    // Relays without spec.image run the operator's own image, so they move with it.
    expect(config.relayImage).toBe(container.image);
  });

  test('runs the operator entry point as non-root on a read-only root file system', () => {
    expect(container.command).toEqual(['node', 'services/operator/dist/main.js']);
    expect(fs.existsSync(path.join(repoRoot, 'services/operator/src/main.ts'))).toBe(true);
    expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    // Room for the operator's own 10 s shutdown bound, in which it hands the Lease back.
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(10);
  });

  test('its probes reach endpoints the operator serves, and they answer as the probes expect', async () => {
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    let health: OperatorHealth = { live: true, ready: false, leader: false };
    const http = createOperatorHttp({ logger: createLogger('test', 'silent'), health: () => health, metrics: new OperatorMetrics() });
    const port = await http.listen(0, '127.0.0.1');
    const url = (p: string) => `http://127.0.0.1:${port}${p}`;
    try {
      expect((await fetch(url('/healthz'))).status).toBe(200);
      expect((await fetch(url('/readyz'))).status).toBe(503);
      health = { live: false, ready: true, leader: true };
      expect((await fetch(url('/healthz'))).status).toBe(503);
      expect((await fetch(url('/readyz'))).status).toBe(200);
      const metrics = await fetch(url('/metrics'));
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    } finally {
      await http.close(0);
    }
  });
});
