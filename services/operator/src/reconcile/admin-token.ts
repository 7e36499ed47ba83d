import type { V1PodTemplateSpec, V1Secret } from '../api/k8s-types';
import type { OutboxRelayResource } from '../api/types';
import { childMetadata, COMPONENT_LABEL, relayName } from './metadata';
import { ADMIN_TOKEN_DIR, ADMIN_TOKEN_KEY } from './env';
import { CONTAINER_NAME } from './pod-template';

/** The key of the admin Secret that holds the token, and where the relay pods find it (read-only; env.ts). */
export { ADMIN_TOKEN_DIR, ADMIN_TOKEN_KEY };
/** Tells the admin Secrets apart from the operator's other children: only a Secret labelled so is used for a token. */
export const ADMIN_TOKEN_COMPONENT = 'admin-token';
/**
 * A digest of the token the pods were started with: a token changed in the Secret (or a Secret deleted and made
 * again) changes the pod template, so the relays restart with the token the operator sends. Relays read it once.
 */
export const ADMIN_TOKEN_DIGEST_ANNOTATION = 'outbox-relay.dev/admin-token-digest';
const VOLUME = 'admin-token';

/** `<relay>-relay-admin`: the Secret holding the token of the relay pods' POST /step-down. */
export function adminSecretName(relay: OutboxRelayResource | string): string {
  return `${typeof relay === 'string' ? relay : relayName(relay)}-relay-admin`;
}

/**
 * The admin Secret with `token` in it. Created once by the controller (never applied: the token is random and a
 * reconcile must not replace it); owned by the relay, so it goes with it.
 */
export function desiredAdminSecret(relay: OutboxRelayResource, token: string): V1Secret {
  const metadata = childMetadata(relay);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { ...metadata, name: adminSecretName(relay), labels: { ...metadata.labels, [COMPONENT_LABEL]: ADMIN_TOKEN_COMPONENT } },
    type: 'Opaque',
    data: { [ADMIN_TOKEN_KEY]: Buffer.from(token, 'utf8').toString('base64') },
  };
}

/**
 * The pod template with the admin Secret mounted read-only where OUTBOX_ADMIN_TOKEN_FILE (env.ts) points, and the
 * digest of the token as an annotation (absent while the Secret is unknown).
 */
export function withAdminToken(template: V1PodTemplateSpec, relay: OutboxRelayResource, digest: string | undefined): V1PodTemplateSpec {
  const spec = template.spec;
  if (!spec) return template;
  const annotations = digest === undefined ? template.metadata?.annotations : { ...template.metadata?.annotations, [ADMIN_TOKEN_DIGEST_ANNOTATION]: digest };
  return {
    ...template,
    metadata: { ...template.metadata, ...(annotations ? { annotations } : {}) },
    spec: {
      ...spec,
      volumes: [
        ...(spec.volumes ?? []),
        { name: VOLUME, secret: { secretName: adminSecretName(relay), items: [{ key: ADMIN_TOKEN_KEY, path: ADMIN_TOKEN_KEY }], defaultMode: 0o440 } },
      ],
      containers: spec.containers.map((c) =>
        c.name === CONTAINER_NAME
          ? {
              ...c,
              volumeMounts: [...(c.volumeMounts ?? []), { name: VOLUME, mountPath: ADMIN_TOKEN_DIR, readOnly: true }],
            }
          : c,
      ),
    },
  };
}
