import type { OutboxRelaySpec } from './types';

/**
 * Cross-field rules of the spec, each written once as a CEL expression (for the CRD's x-kubernetes-validations,
 * enforced by the API server) and once as a TypeScript predicate (for the reconcile, which must not trust that
 * the API server ran them: an older server, or one without CEL, accepts the resource anyway).
 */
export interface SpecRule {
  /** Field the error is reported on, relative to spec (CEL fieldPath uses the same with a leading dot). */
  field: keyof OutboxRelaySpec | `nats.${string}`;
  cel: string;
  message: string;
  holds(spec: OutboxRelaySpec): boolean;
}

export const SPEC_RULES: readonly SpecRule[] = [
  {
    field: 'renewIntervalMs',
    cel: 'self.renewIntervalMs * 2 <= self.leaseDurationMs',
    message: 'renewIntervalMs must be at most half of leaseDurationMs, so a lease survives one missed renewal',
    holds: (s) => s.renewIntervalMs * 2 <= s.leaseDurationMs,
  },
  {
    field: 'nats.duplicateWindowSeconds',
    cel: 'self.nats.duplicateWindowSeconds * 1000 >= 10 * self.leaseDurationMs',
    message:
      'nats.duplicateWindowSeconds must be at least 10 x leaseDurationMs, so a successor\'s re-publishes are deduplicated',
    holds: (s) => s.nats.duplicateWindowSeconds * 1000 >= 10 * s.leaseDurationMs,
  },
];
