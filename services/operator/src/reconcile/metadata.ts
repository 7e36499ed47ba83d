import type { V1ObjectMeta, V1OwnerReference } from '../api/k8s-types';
import { API_GROUP_VERSION, KIND } from '../api/group';
import type { OutboxRelayResource } from '../api/types';

export const APP_NAME = 'outbox-relay';
export const MANAGED_BY = 'outbox-relay-operator';
export const COMPONENT = 'relay';

/** The recommended labels the operator reads back (which relay an object belongs to, and what part of it it is). */
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

/** Labels that pick this relay's pods; never change them, as a Deployment's selector is immutable. */
export function selectorLabels(relay: OutboxRelayResource): Record<string, string> {
  return { 'app.kubernetes.io/name': APP_NAME, [INSTANCE_LABEL]: relayName(relay) };
}

export function relayLabels(relay: OutboxRelayResource): Record<string, string> {
  return {
    ...selectorLabels(relay),
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [COMPONENT_LABEL]: COMPONENT,
  };
}

/** status.selector: the string form the scale subresource hands to HPAs. */
export function selectorString(relay: OutboxRelayResource): string {
  return Object.entries(selectorLabels(relay))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** controller: true makes garbage collection delete the children with the OutboxRelay and marks who manages them. */
export function ownerReference(relay: OutboxRelayResource): V1OwnerReference {
  return {
    apiVersion: API_GROUP_VERSION,
    kind: KIND,
    name: relayName(relay),
    uid: relay.metadata?.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Metadata shared by every child object: same name as the relay (one child of each kind), labels, owner. */
export function childMetadata(relay: OutboxRelayResource): V1ObjectMeta {
  return {
    name: relayName(relay),
    namespace: relay.metadata?.namespace ?? 'default',
    labels: relayLabels(relay),
    ownerReferences: [ownerReference(relay)],
  };
}

export function relayName(relay: OutboxRelayResource): string {
  return relay.metadata?.name ?? '';
}
