/**
 * Offline admission of the chart's prometheus-operator objects (monitoring.coreos.com/v1 PodMonitor, ServiceMonitor,
 * PrometheusRule). The real CRDs are not on this machine and no package the project depends on ships them, so these
 * are a subset of their openAPIV3Schema: only the fields the chart writes, each with the type, pattern and enum of
 * prometheus-operator's API reference (https://prometheus-operator.dev/docs/api-reference/api/, CRDs of v0.82).
 * The API server's behaviour on everything else is what the operator's own CRD validator does: a field the subset
 * does not declare is an error, so the chart cannot start writing a field nobody checked.
 */
import type { JsonSchema } from '../../../services/operator/src/api/schema-types';
import { compileCrdValidator, type CrValidation } from '../../../services/operator/test/support/crd-validator';

/** prometheus-operator's Duration: "30s", "1h30m", "0". */
const duration: JsonSchema = { type: 'string', pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' };
const stringMap: JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };
const strings: JsonSchema = { type: 'array', items: { type: 'string' } };

const labelSelector: JsonSchema = {
  type: 'object',
  properties: {
    matchLabels: stringMap,
    matchExpressions: {
      type: 'array',
      items: { type: 'object', required: ['key', 'operator'], properties: { key: { type: 'string' }, operator: { type: 'string' }, values: strings } },
    },
  },
};

const namespaceSelector: JsonSchema = { type: 'object', properties: { any: { type: 'boolean' }, matchNames: strings } };

const relabeling: JsonSchema = {
  type: 'object',
  properties: {
    action: {
      type: 'string',
      default: 'replace',
      enum: ['replace', 'Replace', 'keep', 'Keep', 'drop', 'Drop', 'hashmod', 'HashMod', 'labelmap', 'LabelMap', 'labeldrop', 'LabelDrop', 'labelkeep', 'LabelKeep', 'lowercase', 'Lowercase', 'uppercase', 'Uppercase', 'keepequal', 'KeepEqual', 'dropequal', 'DropEqual'],
    },
    sourceLabels: { type: 'array', items: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' } },
    separator: { type: 'string' },
    targetLabel: { type: 'string' },
    regex: { type: 'string' },
    replacement: { type: 'string' },
  },
};

/** The fields a PodMetricsEndpoint and a ServiceMonitor Endpoint share, of those the chart writes. */
const endpoint: JsonSchema = {
  type: 'object',
  properties: {
    port: { type: 'string' },
    path: { type: 'string' },
    interval: duration,
    scrapeTimeout: duration,
    relabelings: { type: 'array', items: relabeling },
  },
};

const object = (spec: JsonSchema): JsonSchema => ({
  type: 'object',
  required: ['spec'],
  properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec },
});

const SCHEMAS: Record<string, JsonSchema> = {
  PodMonitor: object({
    type: 'object',
    properties: {
      jobLabel: { type: 'string' },
      namespaceSelector,
      selector: labelSelector,
      podMetricsEndpoints: { type: 'array', items: endpoint },
    },
  }),
  ServiceMonitor: object({
    type: 'object',
    required: ['endpoints', 'selector'],
    properties: {
      jobLabel: { type: 'string' },
      namespaceSelector,
      selector: labelSelector,
      endpoints: { type: 'array', items: endpoint },
    },
  }),
  PrometheusRule: object({
    type: 'object',
    properties: {
      groups: {
        type: 'array',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
        items: {
          type: 'object',
          required: ['name'],
          properties: {
            name: { type: 'string', minLength: 1 },
            interval: duration,
            rules: {
              type: 'array',
              items: {
                type: 'object',
                required: ['expr'],
                properties: {
                  alert: { type: 'string' },
                  record: { type: 'string' },
                  expr: { anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true },
                  for: duration,
                  keep_firing_for: { ...duration, minLength: 1 },
                  labels: stringMap,
                  annotations: stringMap,
                },
              },
            },
          },
        },
      },
    },
  }),
};

export const PROMETHEUS_OPERATOR_KINDS = Object.keys(SCHEMAS);

const validators = new Map<string, (resource: unknown) => CrValidation>();

/** Admission of one monitoring.coreos.com/v1 object against the subset above; a kind outside it is an error. */
export function validatePrometheusOperatorObject(resource: { kind: string }): CrValidation {
  const schema = SCHEMAS[resource.kind];
  if (!schema) throw new Error(`no monitoring.coreos.com/v1 schema for kind ${resource.kind} (known: ${PROMETHEUS_OPERATOR_KINDS.join(', ')})`);
  let validate = validators.get(resource.kind);
  if (!validate) {
    validate = compileCrdValidator(schema);
    validators.set(resource.kind, validate);
  }
  return validate(resource);
}
