import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { CelRule, JsonSchema } from '../../src/api/schema-types';

/**
 * An offline stand-in for the API server's admission of an OutboxRelay: ajv compiled from the CRD's
 * openAPIV3Schema, with the server's behaviour where ajv differs:
 * - defaults are filled in (the server defaults before it validates);
 * - unknown fields are errors (kubectl's default --validate=strict makes the server reject them);
 * - x-kubernetes-validations run, for the CEL subset this CRD uses (integer arithmetic and comparisons on
 *   `self.` paths); any other expression makes compilation fail rather than pass silently.
 */
export interface CrValidation {
  valid: boolean;
  /** kubectl-style messages, e.g. "spec.replicas: must be >= 0". */
  errors: string[];
  /** The fields those messages name. */
  fields: string[];
  /** As the API server lists them in a 422's details.causes. */
  causes: Array<{ reason: string; message: string; field: string; ratchetPath: string }>;
  /** The resource after defaulting. */
  defaulted: Record<string, unknown>;
}

// No division: CEL's int division truncates where JavaScript's does not, so a rule with `/` must fail to compile.
const CEL_SUBSET = /^(?:\s+|self(?:\.[A-Za-z_]\w*)+|\d+|<=|>=|==|!=|&&|\|\||[<>*+\-()])+$/;

function compileCel(rule: CelRule): (self: unknown) => boolean | string {
  if (!CEL_SUBSET.test(rule.rule)) throw new Error(`CEL rule outside the subset this validator evaluates: ${rule.rule}`);
  const paths = [...rule.rule.matchAll(/self((?:\.[A-Za-z_]\w*)+)/g)].map((m) => (m[1] ?? '').slice(1).split('.'));
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the expression passed CEL_SUBSET above
  const evaluate = new Function('self', `return (${rule.rule});`) as (self: unknown) => boolean;
  return (self) => {
    for (const path of paths) {
      const value = path.reduce<unknown>((v, key) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined), self);
      // CEL fails with "no such key" on an absent field; report that instead of comparing NaN.
      if (typeof value !== 'number') return `no such key: ${path.join('.')}`;
    }
    return evaluate(self);
  };
}

/**
 * Unknown fields rejected (or, with ajv's removeAdditional, pruned) everywhere except metadata, whose schema only
 * restricts the name.
 */
function strict(schema: JsonSchema, path: string): JsonSchema {
  const out: JsonSchema = { ...schema };
  if (schema.properties) {
    out.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([key, child]) => [key, strict(child, `${path}.${key}`)]),
    );
    if (schema.additionalProperties === undefined && path !== '.metadata') out.additionalProperties = false;
  }
  if (schema.items) out.items = strict(schema.items, `${path}[]`);
  if (typeof schema.additionalProperties === 'object') out.additionalProperties = strict(schema.additionalProperties, `${path}.*`);
  return out;
}

function fieldOf(e: ErrorObject): string {
  const base = e.instancePath.split('/').filter(Boolean).join('.');
  const join = (child: string) => (base ? `${base}.${child}` : child);
  if (e.keyword === 'required') return join(String(e.params.missingProperty));
  if (e.keyword === 'additionalProperties') return join(String(e.params.additionalProperty));
  if (e.keyword === 'x-kubernetes-validations') return `${base}${String(e.params.fieldPath ?? '')}`;
  return base;
}

function messageOf(e: ErrorObject): string {
  if (e.keyword === 'required') return 'Required value';
  if (e.keyword === 'additionalProperties') return 'field not declared in schema';
  return e.message ?? e.keyword;
}

function reasonOf(e: ErrorObject): string {
  if (e.keyword === 'required') return 'FieldValueRequired';
  if (e.keyword === 'additionalProperties') return 'FieldValueInvalid';
  if (e.keyword === 'enum') return 'FieldValueNotSupported';
  if (e.keyword === 'type') return 'FieldValueTypeInvalid';
  if (e.keyword === 'maxItems' || e.keyword === 'maxLength') return 'FieldValueTooLong';
  if (e.keyword === 'x-kubernetes-validations') return String(e.params.reason ?? 'FieldValueInvalid');
  return 'FieldValueInvalid';
}

/**
 * `unknownFields`: 'reject' as kubectl's default --validate=strict makes the server do; 'prune' as the server
 * does for any other client (fieldValidation unset): unknown fields are dropped, not stored.
 */
export function compileCrdValidator(
  openAPIV3Schema: JsonSchema,
  options: { unknownFields?: 'reject' | 'prune' } = {},
): (resource: unknown) => CrValidation {
  const prune = options.unknownFields === 'prune';
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strictTypes: false, strictRequired: false, ...(prune ? { removeAdditional: true } : {}) });
  addFormats(ajv);
  // Structural-schema keywords with no effect on validity here.
  ajv.addKeyword({ keyword: 'x-kubernetes-int-or-string', schemaType: 'boolean' });
  ajv.addKeyword({ keyword: 'x-kubernetes-list-type', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-kubernetes-list-map-keys', schemaType: 'array' });
  ajv.addKeyword({
    keyword: 'x-kubernetes-validations',
    schemaType: 'array',
    errors: true,
    // After `properties`, so the rules see defaulted fields, as on the API server.
    post: true,
    compile(rules: CelRule[]) {
      const compiled = rules.map((rule) => ({ rule, check: compileCel(rule) }));
      const validate = (data: unknown): boolean => {
        const errors: Partial<ErrorObject>[] = [];
        for (const { rule, check } of compiled) {
          const outcome = check(data);
          if (outcome !== true) {
            errors.push({
              keyword: 'x-kubernetes-validations',
              message: typeof outcome === 'string' ? outcome : rule.message,
              params: { fieldPath: rule.fieldPath ?? '', rule: rule.rule, reason: rule.reason ?? 'FieldValueInvalid' },
            });
          }
        }
        (validate as unknown as { errors: Partial<ErrorObject>[] }).errors = errors;
        return errors.length === 0;
      };
      return validate;
    },
  });
  const check = ajv.compile(strict(openAPIV3Schema, ''));
  return (resource) => {
    const defaulted = structuredClone(resource) as Record<string, unknown>;
    const valid = check(defaulted);
    const errors = (check.errors ?? []).filter((e) => e.keyword !== 'anyOf' || !check.errors?.some((o) => o !== e && o.instancePath === e.instancePath));
    return {
      valid,
      errors: errors.map((e) => `${fieldOf(e)}: ${messageOf(e)}`),
      fields: [...new Set(errors.map(fieldOf))],
      // Ratcheting compares the schema node an error is about (a required field's object, a CEL rule's own object).
      causes: errors.map((e) => ({
        reason: reasonOf(e),
        message: messageOf(e),
        field: fieldOf(e),
        ratchetPath: e.instancePath.split('/').filter(Boolean).join('.'),
      })),
      defaulted,
    };
  };
}
