import type { OutboxRelaySpec } from '../api/types';
import { RESERVED_ENV_NAMES } from './env';
import type { SpecIssue } from './types';

// Kubernetes' label rules (apimachinery validation): a qualified name, optionally prefixed by a DNS subdomain.
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
// What the kubelet accepts as a variable name (any printable ASCII but '='), so a pod is never refused for it.
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

function keyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return `key ${JSON.stringify(key)}: the prefix must be a DNS subdomain`;
  if (name.length > 63 || !QUALIFIED_NAME.test(name)) return `key ${JSON.stringify(key)}: at most 63 alphanumerics, "-", "_" or ".", beginning and ending with an alphanumeric`;
  return undefined;
}

/**
 * The checks of spec.template the schema cannot make and the API server would only make when the Deployment is
 * applied (an apply that fails on every reconcile, with the reason in the operator's log only), plus the one rule of
 * this operator: the relay's own variables are the operator's. A user variable of the same name would silently win
 * or lose depending on the order; refusing it names the field instead.
 */
export function templateIssues(spec: OutboxRelaySpec): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const pod = spec.template?.pod;
  for (const [field, map, values] of [
    ['labels', pod?.metadata?.labels, true],
    ['annotations', pod?.metadata?.annotations, false],
  ] as const) {
    for (const [key, value] of Object.entries(map ?? {})) {
      const problem = keyProblem(key) ?? (values && (value.length > 63 || !LABEL_VALUE.test(value)) ? `value of ${key}: at most 63 alphanumerics, "-", "_" or "."` : undefined);
      if (problem) issues.push({ field: `spec.template.pod.metadata.${field}`, message: problem });
    }
  }
  const reserved = new Set(RESERVED_ENV_NAMES);
  const seen = new Set<string>();
  (spec.template?.container?.env ?? []).forEach((env, i) => {
    const field = `spec.template.container.env[${i}].name`;
    if (reserved.has(env.name)) {
      issues.push({ field, message: `${env.name} is set by the operator from the spec; set the spec field instead` });
    } else if (!ENV_NAME.test(env.name)) {
      issues.push({ field, message: `${JSON.stringify(env.name)} is not a valid variable name` });
    } else if (seen.has(env.name)) {
      issues.push({ field, message: `${env.name} is listed twice` });
    }
    seen.add(env.name);
  });
  return issues;
}
