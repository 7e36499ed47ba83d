import { LOG_LEVELS } from '@outbox-relay/runtime';
import { IMAGE_PULL_POLICIES, NATS_MESSAGE_HEADERS, SPEC_PATTERNS, SPEC_RANGES } from '../api/limits';
import { streamIssues } from './validate-stream';
import { templateIssues } from './validate-template';
import { MAX_NAME_LENGTH, NAME_PATTERN } from '../api/names';
import { SPEC_RULES } from '../api/rules';
import type { OutboxRelayResource, OutboxRelaySpec } from '../api/types';
import type { SpecIssue } from './types';

export type { SpecIssue } from './types';



/** SPEC_RANGES entries that may be absent (absent means something of its own, not a default). */
const OPTIONAL_RANGES = new Set(['partitionCount']);

/** SPEC_RANGES entries whose field is not at the top of the spec: where it is, and its path in messages. */
const NESTED_RANGES: Record<string, { path: string; value: (spec: OutboxRelaySpec) => unknown }> = {
  duplicateWindowSeconds: { path: 'nats.duplicateWindowSeconds', value: (spec) => spec.nats.duplicateWindowSeconds },
  databaseConfirmingStandbys: { path: 'database.confirmingStandbys', value: (spec) => spec.database.confirmingStandbys },
};

/**
 * The CRD's checks, repeated in code: the operator must not start relays that would exit at start-up (the relay
 * enforces the same rules) just because an API server skipped a CEL rule or a schema field.
 */
export function validateRelay(relay: OutboxRelayResource, spec: OutboxRelaySpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const name = relay.metadata?.name ?? '';
  if (name.length > MAX_NAME_LENGTH || !new RegExp(NAME_PATTERN).test(name)) {
    issues.push({
      field: 'metadata.name',
      message: `must be a DNS label of at most ${MAX_NAME_LENGTH} characters starting with a letter`,
    });
  }
  const check = (field: string, ok: boolean, message: string) => {
    if (!ok) issues.push({ field: `spec.${field}`, message });
  };
  for (const [field, range] of Object.entries(SPEC_RANGES)) {
    const nested = NESTED_RANGES[field];
    const value = nested ? nested.value(spec) : spec[field as keyof typeof spec];
    const path = nested ? nested.path : field;
    if (value === undefined && OPTIONAL_RANGES.has(field)) continue;
    check(
      path,
      typeof value === 'number' && Number.isInteger(value) && value >= range.minimum && value <= range.maximum,
      `must be an integer from ${range.minimum} to ${range.maximum}`,
    );
  }
  const matches = (pattern: string, value: string) => new RegExp(pattern).test(value);
  if (spec.image !== undefined) check('image', spec.image.length > 0, 'must not be empty (leave it unset for the operator\'s default)');
  check('database.secretRef.name', matches(SPEC_PATTERNS.secretName, spec.database.secretRef.name), 'must name a Secret');
  check('database.secretRef.key', matches(SPEC_PATTERNS.secretKey, spec.database.secretRef.key), 'must name a key of the Secret');
  check('database.schema', matches(SPEC_PATTERNS.databaseSchema, spec.database.schema), 'must be a lower-case SQL identifier');
  check('nats.url', matches(SPEC_PATTERNS.natsUrl, spec.nats.url), 'must be a nats://, tls://, ws:// or wss:// URL');
  check('nats.stream', matches(SPEC_PATTERNS.natsStream, spec.nats.stream), 'letters, digits, "_" and "-" only');
  check(
    'nats.subjectPrefix',
    matches(SPEC_PATTERNS.natsSubjectPrefix, spec.nats.subjectPrefix),
    'dot-separated tokens without wildcards',
  );
  check(
    'nats.messageHeaders',
    (NATS_MESSAGE_HEADERS as readonly string[]).includes(spec.nats.messageHeaders),
    `must be one of ${NATS_MESSAGE_HEADERS.join(', ')}`,
  );
  if (spec.nats.cloudEventsSource !== undefined) {
    check(
      'nats.cloudEventsSource',
      spec.nats.cloudEventsSource.length <= 2048 && matches(SPEC_PATTERNS.cloudEventsSource, spec.nats.cloudEventsSource),
      'must be a URI-reference (RFC 3986): printable ASCII, no spaces, "%" only in %XX escapes',
    );
  }
  const creds = spec.nats.credentialsSecretRef;
  if (creds) {
    check('nats.credentialsSecretRef.name', matches(SPEC_PATTERNS.secretName, creds.name), 'must name a Secret');
    check('nats.credentialsSecretRef.key', matches(SPEC_PATTERNS.secretKey, creds.key), 'must name a key of the Secret');
  }
  issues.push(...streamIssues(spec));
  issues.push(...templateIssues(spec));
  check('logLevel', (LOG_LEVELS as readonly string[]).includes(spec.logLevel), `must be one of ${LOG_LEVELS.join(', ')}`);
  if (spec.imagePullPolicy !== undefined) {
    check(
      'imagePullPolicy',
      (IMAGE_PULL_POLICIES as readonly string[]).includes(spec.imagePullPolicy),
      `must be one of ${IMAGE_PULL_POLICIES.join(', ')}`,
    );
  }
  // Cross-field rules only mean something once each field is in range.
  if (issues.length === 0) {
    for (const rule of SPEC_RULES) check(rule.field, rule.holds(spec), rule.message);
  }
  return issues;
}

export function describeIssues(issues: SpecIssue[]): string {
  return issues.map((i) => `${i.field}: ${i.message}`).join('; ');
}
