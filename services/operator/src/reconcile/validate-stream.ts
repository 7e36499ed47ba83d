import { NATS_STREAM_DISCARD, NATS_STREAM_MANAGEMENT, NATS_STREAM_STORAGE, SPEC_PATTERNS, STREAM_LIMIT_RANGES } from '../api/limits';
import type { OutboxRelaySpec } from '../api/types';
import type { SpecIssue } from './types';

/**
 * The checks of nats.streamManagement, nats.streamLimits and nats.tls, the relay's own start-up rules for
 * OUTBOX_STREAM_* and NATS_TLS_* (a relay started with values it refuses would only exit with status 2).
 */
export function streamIssues(spec: OutboxRelaySpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const check = (field: string, ok: boolean, message: string) => {
    if (!ok) issues.push({ field: `spec.nats.${field}`, message });
  };
  const oneOf = (field: string, allowed: readonly string[], value: string | undefined) => {
    if (value !== undefined) check(field, allowed.includes(value), `must be one of ${allowed.join(', ')}`);
  };
  oneOf('streamManagement', NATS_STREAM_MANAGEMENT, spec.nats.streamManagement);
  const limits = spec.nats.streamLimits;
  if (limits) {
    oneOf('streamLimits.storage', NATS_STREAM_STORAGE, limits.storage);
    oneOf('streamLimits.discard', NATS_STREAM_DISCARD, limits.discard);
    for (const [field, range] of Object.entries(STREAM_LIMIT_RANGES)) {
      const value = limits[field as keyof typeof STREAM_LIMIT_RANGES];
      if (value === undefined) continue;
      check(
        `streamLimits.${field}`,
        Number.isInteger(value) && value >= range.minimum && value <= range.maximum,
        `must be an integer from ${range.minimum} to ${range.maximum}`,
      );
    }
    const maxAge = limits.maxAgeSeconds;
    // NATS refuses a stream whose duplicate window is longer than its max age.
    if (maxAge !== undefined && maxAge > 0 && maxAge < spec.nats.duplicateWindowSeconds) {
      check('streamLimits.maxAgeSeconds', false, `must be 0 (no limit) or at least nats.duplicateWindowSeconds (${spec.nats.duplicateWindowSeconds})`);
    }
  }
  const tls = spec.nats.tls;
  if (tls) {
    check('tls.secretName', new RegExp(SPEC_PATTERNS.secretName).test(tls.secretName), 'must name a Secret');
    for (const field of ['caKey', 'certKey', 'keyKey'] as const) {
      const key = tls[field];
      if (key !== undefined) check(`tls.${field}`, new RegExp(SPEC_PATTERNS.secretKey).test(key), 'must name a key of the Secret');
    }
    if ((tls.certKey === undefined) !== (tls.keyKey === undefined)) {
      check(tls.certKey === undefined ? 'tls.certKey' : 'tls.keyKey', false, 'certKey and keyKey go together: a client certificate needs its key');
    }
    if (tls.caKey === undefined && tls.certKey === undefined) check('tls', false, 'names no key: set caKey, or certKey and keyKey');
  }
  return issues;
}
