import { API_GROUP_VERSION, KIND } from '../../src/api/group';
import type { JsonObject } from './fake-kube-api';

/** An OutboxRelay as a user would `kubectl apply` it: only the required fields plus what the test sets. */
export function relayManifest(name: string, namespace: string, spec: JsonObject = {}): JsonObject {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: KIND,
    metadata: { name, namespace },
    spec: {
      database: { secretRef: { name: 'relay-db', key: 'url' } },
      nats: { url: 'nats://nats:4222' },
      ...spec,
    },
  };
}

/** The Secret relayManifest's database reference names, as a user creates it before the relay (or the operator waits). */
export function relayDatabaseSecret(namespace: string, url = 'postgres://relay@db:5432/app'): JsonObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'relay-db', namespace },
    type: 'Opaque',
    data: { url: Buffer.from(url).toString('base64') },
  };
}

/** A pod of the relay as the Deployment controller would create it, scheduled and (by default) not yet ready. */
export function relayPod(relay: string, namespace: string, name: string, ip: string): JsonObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels: {
        'app.kubernetes.io/name': 'outbox-relay',
        'app.kubernetes.io/instance': relay,
        'app.kubernetes.io/managed-by': 'outbox-relay-operator',
        'app.kubernetes.io/component': 'relay',
      },
    },
    spec: { nodeName: 'node-1', containers: [{ name: 'relay', image: 'ghcr.io/outbox-relay/outbox-relay:0.1.0' }] },
    status: { phase: 'Running', podIP: ip, conditions: [] },
  };
}

/** The kubelet's side of readiness: the Ready condition and when it last changed. */
export function setReady(pod: JsonObject, ready: boolean, at = new Date()): void {
  const status = (pod.status ?? {}) as JsonObject;
  status.conditions = [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: at.toISOString().replace(/\.\d+Z$/, 'Z') }];
  pod.status = status;
}
