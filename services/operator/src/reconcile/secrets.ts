import { createHash } from 'node:crypto';
import { withDefaults } from '../api/defaults';
import type { OutboxRelayResource, OutboxRelaySpec } from '../api/types';

/** Pod-template annotation holding the digest of the referenced Secrets' data: a change rolls the pods. */
export const SECRETS_HASH_ANNOTATION = 'outbox-relay.dev/secrets-hash';

/** One place the relay pods read a Secret from: which keys ('all' for envFrom), and whether it may be absent. */
export interface SecretReference {
  name: string;
  keys: readonly string[] | 'all';
  /** The pod starts without it (env/envFrom `optional: true`). */
  optional: boolean;
  /** Where the spec names it, for messages. */
  field: string;
}

/** A Secret as the controller saw it: its data (base64 values, as the API returns them). */
export interface ObservedSecret {
  name: string;
  data: Record<string, string>;
}

/**
 * Every Secret the relay pods read: the database URL, the NATS credentials and TLS files, and the user's env and
 * envFrom. Image pull secrets are left out: a new pull secret changes nothing in a running pod.
 */
export function referencedSecrets(spec: OutboxRelaySpec): SecretReference[] {
  const refs: SecretReference[] = [];
  const { database, nats } = spec;
  if (database.secretRef.name) {
    refs.push({ name: database.secretRef.name, keys: [database.secretRef.key], optional: false, field: 'spec.database.secretRef' });
  }
  if (nats.credentialsSecretRef) {
    const creds = nats.credentialsSecretRef;
    refs.push({ name: creds.name, keys: [creds.key], optional: false, field: 'spec.nats.credentialsSecretRef' });
  }
  if (nats.tls) {
    const keys = [nats.tls.caKey, nats.tls.certKey, nats.tls.keyKey].filter((k): k is string => k !== undefined);
    refs.push({ name: nats.tls.secretName, keys, optional: false, field: 'spec.nats.tls.secretName' });
  }
  const container = spec.template?.container;
  (container?.env ?? []).forEach((env, i) => {
    const ref = env.valueFrom?.secretKeyRef;
    if (ref?.name) refs.push({ name: ref.name, keys: [ref.key], optional: ref.optional === true, field: `spec.template.container.env[${i}].valueFrom.secretKeyRef` });
  });
  (container?.envFrom ?? []).forEach((source, i) => {
    const ref = source.secretRef;
    if (ref?.name) refs.push({ name: ref.name, keys: 'all', optional: ref.optional === true, field: `spec.template.container.envFrom[${i}].secretRef` });
  });
  return refs;
}

export interface SecretsCheck {
  /** sha256 of the referenced data; stable while that data is, whatever else changes in the Secrets. */
  hash: string;
  /** A required Secret or key that does not exist, one message each: the pods could not start. */
  missing: string[];
}

/**
 * The digest of what the pods read from Secrets, and what they would miss. A hash of the data, not the Secrets'
 * resourceVersions: those move on any write (a label, a re-apply by a GitOps tool, a restore from backup) and
 * would roll the pods for nothing; the data of the referenced keys is what the relay sees. An optional Secret that
 * is absent counts as absent in the digest, so creating it rolls the pods too.
 */
export function checkSecrets(refs: readonly SecretReference[], secrets: readonly ObservedSecret[]): SecretsCheck {
  const byName = new Map(secrets.map((s) => [s.name, s]));
  const missing: string[] = [];
  const read = new Map<string, Set<string> | 'all'>();
  for (const ref of refs) {
    const secret = byName.get(ref.name);
    if (!secret) {
      if (!ref.optional) missing.push(`Secret ${ref.name} (${ref.field}) does not exist`);
    } else if (ref.keys !== 'all' && !ref.optional) {
      for (const key of ref.keys.filter((k) => !(k in secret.data))) missing.push(`Secret ${ref.name} has no key ${key} (${ref.field})`);
    }
    const before = read.get(ref.name);
    if (ref.keys === 'all' || before === 'all') read.set(ref.name, 'all');
    else read.set(ref.name, new Set([...(before ?? []), ...ref.keys]));
  }
  const digest = createHash('sha256');
  for (const name of [...read.keys()].sort()) {
    const keys = read.get(name)!;
    const data = byName.get(name)?.data;
    const entries = data === undefined ? null : [...(keys === 'all' ? Object.keys(data) : keys)].sort().map((k) => [k, data[k] ?? null]);
    digest.update(JSON.stringify([name, entries]));
  }
  return { hash: digest.digest('hex'), missing };
}

/**
 * The relays (names) in the Secret's namespace whose pods read it: the only ones a change of that Secret concerns.
 * A Secret elsewhere in the namespace wakes nobody.
 */
export function relaysReading(namespace: string | undefined, secretName: string | undefined, relays: readonly OutboxRelayResource[]): string[] {
  if (!namespace || !secretName) return [];
  return relays
    .filter((relay) => relay.metadata?.namespace === namespace)
    .filter((relay) => referencedSecrets(withDefaults(relay.spec)).some((ref) => ref.name === secretName))
    .map((relay) => relay.metadata?.name ?? '');
}
