import type { V1Container, V1PodTemplateSpec, V1Volume, V1VolumeMount } from '../api/k8s-types';
import type { OutboxRelayResource, OutboxRelaySpec } from '../api/types';
import { NATS_CREDS_DIR, NATS_TLS_DIR, RELAY_HTTP_PORT, relayEnv } from './env';
import { relayLabels, relayName, selectorLabels } from './metadata';

/** The relay image's user (see the relay Dockerfile); fixed so runAsNonRoot can be checked by the kubelet. */
export const RELAY_UID = 10001;
export const RELAY_COMMAND = ['node', 'services/relay/dist/main.js'];
export const RELAY_WORKDIR = '/app';
export const CONTAINER_NAME = 'relay';

/** Used when spec.resources is absent: small requests keep the pod schedulable; the memory limit bounds a leak. */
export const DEFAULT_RESOURCES = { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } };

export function podTemplate(relay: OutboxRelayResource, spec: OutboxRelaySpec): V1PodTemplateSpec {
  return {
    metadata: { labels: relayLabels(relay) },
    spec: {
      serviceAccountName: relayName(relay),
      // The relay never calls the Kubernetes API; no token means nothing to steal.
      automountServiceAccountToken: false,
      // Longer than the relay's own shutdown timeout (10 s), so it can release its leases at once on SIGTERM.
      terminationGracePeriodSeconds: 30,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: RELAY_UID,
        runAsGroup: RELAY_UID,
        fsGroup: RELAY_UID,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      // Leader and standby on different nodes when possible, so one node failure does not take both.
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            {
              weight: 100,
              podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selectorLabels(relay) } },
            },
          ],
        },
      },
      containers: [relayContainer(spec)],
      volumes: volumes(spec),
    },
  };
}

function relayContainer(spec: OutboxRelaySpec): V1Container {
  const container: V1Container = {
    name: CONTAINER_NAME,
    image: spec.image,
    command: RELAY_COMMAND,
    workingDir: RELAY_WORKDIR,
    ports: [{ name: 'http', containerPort: RELAY_HTTP_PORT, protocol: 'TCP' }],
    env: relayEnv(spec),
    resources: spec.resources ?? DEFAULT_RESOURCES,
    // Readiness follows /readyz (started, not shutting down); liveness only /healthz, so a slow database does
    // not get a healthy process killed.
    readinessProbe: {
      httpGet: { path: '/readyz', port: 'http' },
      periodSeconds: 2,
      timeoutSeconds: 1,
      failureThreshold: 3,
    },
    livenessProbe: {
      httpGet: { path: '/healthz', port: 'http' },
      initialDelaySeconds: 5,
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RELAY_UID,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: volumeMounts(spec),
    // A relay that exits on bad configuration (status 2: a bad variable, a stream that does not fit) writes why as
    // its last line; the kubelet keeps the tail of the log as the container's termination message, where
    // `kubectl describe pod` (and the operator, later) can read it.
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  if (spec.imagePullPolicy) container.imagePullPolicy = spec.imagePullPolicy;
  return container;
}

function volumes(spec: OutboxRelaySpec): V1Volume[] {
  // Node and its libraries write temp files; with a read-only root, /tmp must be a volume.
  const list: V1Volume[] = [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }];
  const creds = spec.nats.credentialsSecretRef;
  if (creds) {
    list.push({
      name: 'nats-credentials',
      secret: { secretName: creds.name, items: [{ key: creds.key, path: creds.key }], defaultMode: 0o440 },
    });
  }
  const tls = spec.nats.tls;
  if (tls) {
    const keys = [tls.caKey, tls.certKey, tls.keyKey].filter((k): k is string => k !== undefined);
    list.push({
      name: 'nats-tls',
      secret: { secretName: tls.secretName, items: keys.map((key) => ({ key, path: key })), defaultMode: 0o440 },
    });
  }
  return list;
}

function volumeMounts(spec: OutboxRelaySpec): V1VolumeMount[] {
  const list: V1VolumeMount[] = [{ name: 'tmp', mountPath: '/tmp' }];
  if (spec.nats.credentialsSecretRef) list.push({ name: 'nats-credentials', mountPath: NATS_CREDS_DIR, readOnly: true });
  if (spec.nats.tls) list.push({ name: 'nats-tls', mountPath: NATS_TLS_DIR, readOnly: true });
  return list;
}
