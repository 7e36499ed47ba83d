import type { JsonSchema } from './schema-types';

/**
 * spec.template: what a user may add to the relay pods, with the Kubernetes field names and schemas (core/v1 as of
 * release 1.36, the version of @kubernetes/client-node's models; test/api/schema-pod.test.ts walks these schemas
 * against those models). Shaped as Strimzi's `template.pod` / `template.container`, which users of operators know:
 * the operator owns the pod, and the template offers the scheduling and environment knobs CloudNativePG's Cluster
 * offers (affinity, tolerations, topology spread, priority class, env, envFrom, pull secrets), under their
 * Kubernetes names. Resources stay at spec.resources, where both operators keep them.
 *
 * Lists carry the list-type markers of the real schemas, so server-side apply merges them as it merges a PodSpec's.
 * EnvVarSource.fileKeyRef is left out: it reads a file from a volume of the pod, and the template offers no volumes.
 */

const str: JsonSchema = { type: 'string' };
const strings: JsonSchema = { type: 'array', items: str, 'x-kubernetes-list-type': 'atomic' };
const stringMap: JsonSchema = { type: 'object', additionalProperties: str };
const int32 = (extra: JsonSchema = {}): JsonSchema => ({ type: 'integer', format: 'int32', ...extra });
const atomicList = (items: JsonSchema): JsonSchema => ({ type: 'array', items, 'x-kubernetes-list-type': 'atomic' });
const object = (properties: Record<string, JsonSchema>, required?: string[]): JsonSchema => ({
  type: 'object',
  properties,
  ...(required ? { required } : {}),
});

// Quantities accept numbers and strings ("500m", "1Gi"), as in core/v1.
export const quantitySchema: JsonSchema = {
  anyOf: [{ type: 'integer' }, { type: 'string' }],
  'x-kubernetes-int-or-string': true,
  pattern: '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
};

const labelSelector = object({
  matchExpressions: atomicList(object({ key: str, operator: str, values: strings }, ['key', 'operator'])),
  matchLabels: stringMap,
});

const nodeSelectorRequirement = object(
  { key: str, operator: { type: 'string', enum: ['DoesNotExist', 'Exists', 'Gt', 'In', 'Lt', 'NotIn'] }, values: strings },
  ['key', 'operator'],
);
const nodeSelectorTerm = object({ matchExpressions: atomicList(nodeSelectorRequirement), matchFields: atomicList(nodeSelectorRequirement) });

// The API server refuses weights outside 1-100 when the Deployment is applied; here that is caught at admission.
const weight = int32({ minimum: 1, maximum: 100 });

const podAffinityTerm = object(
  {
    labelSelector,
    matchLabelKeys: strings,
    mismatchLabelKeys: strings,
    namespaceSelector: labelSelector,
    namespaces: strings,
    topologyKey: str,
  },
  ['topologyKey'],
);

const podAffinity = object({
  preferredDuringSchedulingIgnoredDuringExecution: atomicList(object({ podAffinityTerm, weight }, ['weight', 'podAffinityTerm'])),
  requiredDuringSchedulingIgnoredDuringExecution: atomicList(podAffinityTerm),
});

export const affinitySchema: JsonSchema = {
  ...object({
    nodeAffinity: object({
      preferredDuringSchedulingIgnoredDuringExecution: atomicList(object({ preference: nodeSelectorTerm, weight }, ['weight', 'preference'])),
      requiredDuringSchedulingIgnoredDuringExecution: object({ nodeSelectorTerms: atomicList(nodeSelectorTerm) }, ['nodeSelectorTerms']),
    }),
    podAffinity,
    podAntiAffinity: podAffinity,
  }),
  description: 'core/v1 Affinity. nodeAffinity and podAffinity are added to the pods; podAntiAffinity, when set, replaces the operator\'s default (relay pods preferably on different nodes).',
};

export const tolerationsSchema: JsonSchema = {
  ...atomicList(
    object({
      effect: { type: 'string', enum: ['NoExecute', 'NoSchedule', 'PreferNoSchedule'] },
      key: str,
      operator: { type: 'string', enum: ['Equal', 'Exists'] },
      tolerationSeconds: { type: 'integer', format: 'int64' },
      value: str,
    }),
  ),
  description: 'core/v1 Tolerations of the relay pods.',
};

export const topologySpreadConstraintsSchema: JsonSchema = {
  type: 'array',
  description: 'core/v1 TopologySpreadConstraints of the relay pods (a labelSelector naming the relay\'s own pods spreads them).',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['topologyKey', 'whenUnsatisfiable'],
  items: object(
    {
      labelSelector,
      matchLabelKeys: strings,
      maxSkew: int32({ minimum: 1 }),
      minDomains: int32({ minimum: 1 }),
      nodeAffinityPolicy: { type: 'string', enum: ['Honor', 'Ignore'] },
      nodeTaintsPolicy: { type: 'string', enum: ['Honor', 'Ignore'] },
      topologyKey: str,
      whenUnsatisfiable: { type: 'string', enum: ['DoNotSchedule', 'ScheduleAnyway'] },
    },
    ['maxSkew', 'topologyKey', 'whenUnsatisfiable'],
  ),
};

export const imagePullSecretsSchema: JsonSchema = {
  type: 'array',
  description: 'Secrets in the namespace for pulling the relay image.',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['name'],
  // A map key must be required (or defaulted) in a CRD; a pull secret without a name means nothing anyway.
  items: object({ name: str }, ['name']),
};

const optional: JsonSchema = { type: 'boolean' };

export const envSchema: JsonSchema = {
  type: 'array',
  description: 'core/v1 EnvVars added to the relay container, after the operator\'s own (so $(VAR) may name those). A name the operator sets is refused.',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['name'],
  items: object(
    {
      name: { type: 'string', minLength: 1 },
      value: str,
      valueFrom: object({
        configMapKeyRef: object({ key: str, name: str, optional }, ['key']),
        fieldRef: object({ apiVersion: str, fieldPath: str }, ['fieldPath']),
        resourceFieldRef: object({ containerName: str, divisor: quantitySchema, resource: str }, ['resource']),
        secretKeyRef: object({ key: str, name: str, optional }, ['key']),
      }),
    },
    ['name'],
  ),
};

export const envFromSchema: JsonSchema = {
  ...atomicList(
    object({
      configMapRef: object({ name: str, optional }),
      prefix: str,
      secretRef: object({ name: str, optional }),
    }),
  ),
  description: 'core/v1 EnvFromSources of the relay container. The container\'s env wins over them, so they cannot change a variable the operator sets.',
};

export const templateSchema: JsonSchema = {
  type: 'object',
  description: 'Additions to the relay pods and their container. The operator\'s labels, annotations and variables always win.',
  properties: {
    pod: {
      type: 'object',
      description: 'Additions to the relay pods.',
      properties: {
        metadata: {
          type: 'object',
          description: 'Labels and annotations added to the relay pods; the operator\'s own keys win.',
          properties: { labels: stringMap, annotations: stringMap },
        },
        imagePullSecrets: imagePullSecretsSchema,
        nodeSelector: { ...stringMap, description: 'Node labels the relay pods must run on.' },
        affinity: affinitySchema,
        tolerations: tolerationsSchema,
        topologySpreadConstraints: topologySpreadConstraintsSchema,
        priorityClassName: { type: 'string', description: 'PriorityClass of the relay pods.', maxLength: 253 },
      },
    },
    container: {
      type: 'object',
      description: 'Additions to the relay container.',
      properties: { env: envSchema, envFrom: envFromSchema },
    },
  },
};
