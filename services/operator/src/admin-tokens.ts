import { createHash, randomBytes } from 'node:crypto';
import type { OutboxRelayResource } from './api/types';
import { OperatorError } from './errors';
import type { V1Secret } from './kube/client-node';
import type { RelayCluster } from './kube/kube-client';
import { MANAGED_SELECTOR } from './kube/sources';
import { ADMIN_TOKEN_COMPONENT, ADMIN_TOKEN_KEY, adminSecretName, desiredAdminSecret } from './reconcile/admin-token';
import { COMPONENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL } from './reconcile/metadata';

/** The labels the operator puts on an admin Secret; one without them is not its own, whatever its name. */
const ADMIN_SECRET_LABELS = `${MANAGED_SELECTOR},app.kubernetes.io/component=${ADMIN_TOKEN_COMPONENT}`;
const isAdminSecret = (secret: V1Secret): boolean =>
  secret.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY && secret.metadata?.labels?.[COMPONENT_LABEL] === ADMIN_TOKEN_COMPONENT;

/** A relay's admin token as the prober sends it, and its digest as the pod template carries it. */
export interface RelayAdminToken {
  secret: string;
  token: string;
  digest: string;
}

/** The admin Secret exists but cannot be used (not the operator's, or no token in it); the fix is in `message`. */
export class AdminSecretError extends OperatorError {
  constructor(
    readonly namespace: string,
    readonly secret: string,
    detail: string,
  ) {
    super(`admin Secret ${namespace}/${secret} ${detail}`);
  }
}

/** 32 random bytes, as text that fits a header and a file (base64url, 43 characters). */
const newToken = (): string => randomBytes(32).toString('base64url');
/** Enough to tell two tokens apart in a pod template, too short to stand for the token. */
const digestOf = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 16);

/**
 * The token each relay's POST /step-down requires, kept in a Secret the operator creates once per OutboxRelay
 * (`<name>-relay-admin`) and never replaces: deleting the Secret is how a token is rotated. Secrets are read from
 * the controller's Secret informer, and only one labelled as the operator's admin Secret is used; a token is decoded
 * again only when its Secret's resourceVersion changed.
 */
export class AdminTokens {
  private readonly decoded = new Map<string, { resourceVersion: string; token: RelayAdminToken }>();
  /** Created by this operator and not yet seen by the informer. */
  private readonly created = new Map<string, RelayAdminToken>();

  constructor(
    private readonly secrets: { get(name: string, namespace?: string): V1Secret | undefined },
    private readonly cluster: Pick<RelayCluster, 'createSecret'>,
    private readonly makeToken: () => string = newToken,
  ) {}

  /**
   * The relay's admin token; when it has no admin Secret yet, one is created with a new token. Throws
   * AdminSecretError when a Secret of that name exists that the operator does not own or that holds no token.
   */
  async ensure(relay: OutboxRelayResource): Promise<RelayAdminToken> {
    const namespace = relay.metadata?.namespace ?? 'default';
    const name = adminSecretName(relay);
    const key = `${namespace}/${name}`;
    const seen = this.secrets.get(name, namespace);
    if (seen) {
      this.created.delete(key);
      if (!isAdminSecret(seen)) {
        throw new AdminSecretError(namespace, name, `exists but is not the operator's (labels ${ADMIN_SECRET_LABELS}); delete it and the operator makes its own`);
      }
      return this.read(key, namespace, seen);
    }
    const created = this.created.get(key);
    if (created) return created;
    const token = newTokenEntry(name, this.makeToken());
    const secret = desiredAdminSecret(relay, token.token);
    if (!(await this.cluster.createSecret(secret))) {
      throw new AdminSecretError(namespace, name, `exists but is not the operator's (labels ${ADMIN_SECRET_LABELS}); delete it and the operator makes its own`);
    }
    this.created.set(key, token);
    return token;
  }

  private read(key: string, namespace: string, secret: V1Secret): RelayAdminToken {
    const resourceVersion = secret.metadata?.resourceVersion ?? '';
    const cached = this.decoded.get(key);
    if (cached && cached.resourceVersion === resourceVersion) return cached.token;
    const name = secret.metadata?.name ?? '';
    const encoded = secret.data?.[ADMIN_TOKEN_KEY];
    const token = encoded === undefined ? '' : Buffer.from(encoded, 'base64').toString('utf8').trim();
    if (token === '' || /\s/.test(token)) {
      throw new AdminSecretError(namespace, name, `holds no usable token under "${ADMIN_TOKEN_KEY}"; delete it and the operator makes a new one`);
    }
    const entry = newTokenEntry(name, token);
    this.decoded.set(key, { resourceVersion, token: entry });
    return entry;
  }
}

function newTokenEntry(secret: string, token: string): RelayAdminToken {
  return { secret, token, digest: digestOf(token) };
}
