/** Names of the API (one place, so the CRD, the types and the reconcile cannot disagree). */
export const API_GROUP = 'outbox-relay.dev';
export const API_VERSION = 'v1alpha1';
export const API_GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;
export const KIND = 'OutboxRelay';
export const LIST_KIND = 'OutboxRelayList';
export const PLURAL = 'outboxrelays';
export const SINGULAR = 'outboxrelay';
export const SHORT_NAMES = ['obr'];
export const CRD_NAME = `${PLURAL}.${API_GROUP}`;

/** Field manager for server-side apply: the operator owns exactly the fields it applies under this name. */
export const FIELD_MANAGER = 'outbox-relay-operator';

/** Annotations users set on an OutboxRelay to ask for a planned leader change (switchover). */
export const SWITCHOVER_TO_ANNOTATION = `${API_GROUP}/switchover-to`;
export const STEP_DOWN_ANNOTATION = `${API_GROUP}/step-down`;
