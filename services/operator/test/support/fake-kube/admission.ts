import type { JsonSchema } from '../../../src/api/schema-types';
import { compileCrdValidator, type CrValidation } from '../crd-validator';
import { deepEqual, type JsonObject } from './json';
import type { ResourceType } from './resources';
import { StatusError } from './store';

/** How unknown fields of a custom resource are treated: the request's fieldValidation (kubectl sends Strict). */
export type FieldValidation = 'Strict' | 'Ignore';

export interface Cause {
  reason: string;
  message: string;
  field: string;
}

/** A 422 as the API server writes it: `<Kind>.<group> "<name>" is invalid: <field>: <message>, ...`. */
export function invalid(r: ResourceType, name: string, causes: Cause[]): StatusError {
  const qualified = r.group ? `${r.kind}.${r.group}` : r.kind;
  const list = causes.map((c) => `${c.field}: ${c.message}`);
  const summary = list.length === 1 ? list[0] : `[${list.join(', ')}]`;
  return new StatusError(422, 'Invalid', `${qualified} "${name}" is invalid: ${summary}`, {
    name,
    ...(r.group ? { group: r.group } : {}),
    kind: r.kind,
    causes: causes as unknown as JsonObject[],
  });
}

const valueAt = (o: JsonObject, dotted: string): unknown =>
  dotted.split('.').filter(Boolean).reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);

const selectorOf = (o: JsonObject | undefined) => (o?.spec as JsonObject | undefined)?.selector;

/** Built-in validation the operator's objects meet on a real server (apps/v1 and core/v1 validation.go). */
function builtinCauses(r: ResourceType, next: JsonObject, old: JsonObject | undefined): Cause[] {
  const causes: Cause[] = [];
  if (r.kind === 'Deployment') {
    const selector = selectorOf(next) as { matchLabels?: Record<string, string> } | undefined;
    if (!selector) causes.push({ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.selector' });
    const labels = (((next.spec as JsonObject | undefined)?.template as JsonObject | undefined)?.metadata as { labels?: Record<string, string> } | undefined)?.labels ?? {};
    if (selector && !Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v)) {
      causes.push({ reason: 'FieldValueInvalid', message: 'Invalid value: `selector` does not match template `labels`', field: 'spec.template.metadata.labels' });
    }
    if (old && !deepEqual(selectorOf(old), selectorOf(next))) {
      causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(selectorOf(next))}: field is immutable`, field: 'spec.selector' });
    }
  }
  if (r.kind === 'Service' && old) {
    const before = (old.spec as { clusterIP?: string } | undefined)?.clusterIP;
    const after = (next.spec as { clusterIP?: string } | undefined)?.clusterIP;
    if (before && after !== undefined && after !== '' && after !== before) {
      causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: "${after}": field is immutable`, field: 'spec.clusterIP' });
    }
  }
  if (r.kind === 'Pod' && old) {
    // Pod updates may change container images (and a few fields the operator never touches), nothing else.
    const strip = (o: JsonObject) => {
      const spec = structuredClone((o.spec ?? {}) as JsonObject);
      for (const c of (spec.containers ?? []) as JsonObject[]) delete c.image;
      return spec;
    };
    if (!deepEqual(strip(old), strip(next))) {
      causes.push({ reason: 'FieldValueForbidden', message: 'Forbidden: pod updates may not change fields other than `spec.containers[*].image`', field: 'spec' });
    }
  }
  return causes;
}

/**
 * What the API server refuses or changes before it stores an object: a custom resource is defaulted and
 * validated against its CRD's openAPIV3Schema (types, enums, bounds, patterns, required fields and the CEL rules
 * of x-kubernetes-validations, unknown fields pruned, or refused under fieldValidation=Strict); built-ins get the
 * immutability and consistency checks listed in builtinCauses. Refusals are 422 Invalid with details.causes.
 */
export class Admission {
  private readonly validators = new Map<ResourceType, Record<FieldValidation, (o: unknown) => CrValidation>>();

  constructor(resources: readonly ResourceType[]) {
    for (const r of resources) {
      if (!r.schema) continue;
      // Compiled up front: a CEL rule this fake cannot evaluate fails the API's start, never passes silently.
      const schema = r.schema as unknown as JsonSchema;
      this.validators.set(r, {
        Strict: compileCrdValidator(schema, { unknownFields: 'reject' }),
        Ignore: compileCrdValidator(schema, { unknownFields: 'prune' }),
      });
    }
  }

  admit(r: ResourceType, name: string, next: JsonObject, old: JsonObject | undefined, validation: FieldValidation): JsonObject {
    const validator = this.validators.get(r)?.[validation];
    let admitted = next;
    const causes: Cause[] = [];
    if (validator) {
      const { metadata, ...rest } = next;
      const result = validator(rest);
      admitted = { ...(result.defaulted as JsonObject), ...(metadata ? { metadata } : {}) };
      // Validation ratcheting (CRDValidationRatcheting, on by default since 1.30): an update may keep a value that
      // fails validation as long as it does not change it, e.g. a status write to a resource stored before
      // its CRD gained a rule.
      // The old object as the server reads it from etcd: defaulted.
      const before = old && (validator(old).defaulted as JsonObject);
      const unchanged = (path: string) => before !== undefined && deepEqual(valueAt(before, path), valueAt(admitted, path));
      causes.push(...result.causes.filter((c) => !unchanged(c.ratchetPath)).map(({ reason, message, field }) => ({ reason, message, field })));
    }
    if (r.kind === 'Service') admitted = this.allocateClusterIp(admitted, old);
    causes.push(...builtinCauses(r, admitted, old));
    if (causes.length > 0) throw invalid(r, name, causes);
    return admitted;
  }

  private nextIp = 1;

  /** The service IP allocator, and the registry keeping an allocated clusterIP that an update leaves out. */
  private allocateClusterIp(next: JsonObject, old: JsonObject | undefined): JsonObject {
    const spec = { ...((next.spec ?? {}) as JsonObject) };
    if (spec.type === 'ExternalName' || (spec.clusterIP !== undefined && spec.clusterIP !== '')) return next;
    const kept = (old?.spec as { clusterIP?: string } | undefined)?.clusterIP;
    const ip = kept ?? `10.96.${Math.floor(this.nextIp / 250)}.${(this.nextIp++ % 250) + 1}`;
    return { ...next, spec: { ...spec, clusterIP: ip, clusterIPs: [ip] } };
  }
}
