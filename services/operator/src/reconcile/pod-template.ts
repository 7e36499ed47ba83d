import type { V1Affinity, V1Container, V1PodSpec, V1PodTemplateSpec, V1Volume, V1VolumeMount } from '../api/k8s-types';
import type { OutboxRelayResource, OutboxRelaySpec } from '../api/types';
import { NATS_CREDS_DIR, NATS_TLS_DIR, RELAY_HTTP_PORT, relayEnv } from './env';
import { relayLabels, relayName, selectorLabels } from './metadata';
import { SECRETS_HASH_ANNOTATION } from './secrets';

/** The relay image's user (see the relay Dockerfile); fixed so runAsNonRoot can be checked by the kubelet. */
export const RELAY_UID = 10001;
export const RELAY_COMMAND = ['node', 'services/relay/dist/main.js'];
export const RELAY_WORKDIR = '/app';
export const CONTAINER_NAME = 'relay';

/** Used when spec.resources is absent: small requests keep the pod schedulable; the memory limit bounds a leak. */
export const DEFAULT_RESOURCES = { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } };

/** What the pod template needs beyond the spec: the image in use and the digest of the Secrets the pods read. */
export interface PodTemplateInputs {
  image: string;
  secretsHash: string;
}

export function podTemplate(relay: OutboxRelayResource, spec: OutboxRelaySpec, inputs: PodTemplateInputs): V1PodTemplateSpec {
  const user = spec.template?.pod;
  return {
    // The user's labels and annotations first: the operator's keys (the selector's among them) always win.
    metadata: {
      labels: { ...user?.metadata?.labels, ...relayLabels(relay) },
      annotations: { ...user?.metadata?.annotations, [SECRETS_HASH_ANNOTATION]: inputs.secretsHash },
    },
    spec: withPodAdditions(spec, {
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
      affinity: relayAffinity(relay, spec),
      containers: [relayContainer(spec, inputs.image)],
      volumes: volumes(spec),
    }),
  };
}

function relayContainer(spec: OutboxRelaySpec, image: string): V1Container {
  const container: V1Container = {
    name: CONTAINER_NAME,
    image,
    command: RELAY_COMMAND,
    workingDir: RELAY_WORKDIR,
    ports: [{ name: 'http', containerPort: RELAY_HTTP_PORT, protocol: 'TCP' }],
    // The operator's variables first, so the user's may refer to them as $(NAME); validate-template.ts refuses a
    // user variable of the same name. envFrom never overrides env (Kubernetes gives env the last word).
    env: [...relayEnv(spec), ...(spec.template?.container?.env ?? [])],
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
  const envFrom = spec.template?.container?.envFrom;
  if (envFrom?.length) container.envFrom = envFrom;
  return container;
}

/** spec.template.pod's scheduling fields, each only when set (an empty list would be a field the operator owns). */
function withPodAdditions(spec: OutboxRelaySpec, pod: V1PodSpec): V1PodSpec {
  const user = spec.template?.pod;
  if (!user) return pod;
  return {
    ...pod,
    ...(user.imagePullSecrets?.length ? { imagePullSecrets: user.imagePullSecrets } : {}),
    ...(user.nodeSelector && Object.keys(user.nodeSelector).length > 0 ? { nodeSelector: user.nodeSelector } : {}),
    ...(user.tolerations?.length ? { tolerations: user.tolerations } : {}),
    ...(user.topologySpreadConstraints?.length ? { topologySpreadConstraints: user.topologySpreadConstraints } : {}),
    ...(user.priorityClassName ? { priorityClassName: user.priorityClassName } : {}),
  };
}

/**
 * Leader and standby on different nodes when possible, so one node failure does not take both. The user's
 * nodeAffinity and podAffinity are added; their podAntiAffinity replaces this default (as CloudNativePG's does when
 * its own is switched off), since two anti-affinities of different intent would only fight.
 */
function relayAffinity(relay: OutboxRelayResource, spec: OutboxRelaySpec): V1Affinity {
  const user = spec.template?.pod?.affinity;
  return {
    ...(user?.nodeAffinity ? { nodeAffinity: user.nodeAffinity } : {}),
    ...(user?.podAffinity ? { podAffinity: user.podAffinity } : {}),
    podAntiAffinity: user?.podAntiAffinity ?? {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 100,
          podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selectorLabels(relay) } },
        },
      ],
    },
  };
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
