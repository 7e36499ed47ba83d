import type { V1ServiceAccount } from '../api/k8s-types';
import type { OutboxRelayResource } from '../api/types';
import { childMetadata } from './metadata';

/** A ServiceAccount per relay, with no RBAC bound: pods do not run as `default`, which others may have granted rights. */
export function desiredServiceAccount(relay: OutboxRelayResource): V1ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: childMetadata(relay),
    automountServiceAccountToken: false,
  };
}
