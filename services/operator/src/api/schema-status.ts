import type { JsonSchema } from './schema-types';

const time = (description: string): JsonSchema => ({ type: 'string', format: 'date-time', description });

// metav1.Condition, as the API conventions define it.
const condition: JsonSchema = {
  type: 'object',
  required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
  properties: {
    // Open, as metav1.Condition's: the installed CRD may lag the operator (Helm does not upgrade CRDs by itself), and
    // a closed list would make the API server refuse every status write of a newer operator that adds a type.
    type: {
      type: 'string',
      maxLength: 316,
      pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
      description: 'Ready, LeaderElected, Progressing, Degraded, Paused, PodsUnreachable or PartitionCountApplied (newer operators may add types).',
    },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    reason: { type: 'string', minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' },
    message: { type: 'string', maxLength: 32768 },
    lastTransitionTime: time('When status last changed.'),
    observedGeneration: { type: 'integer', minimum: 0 },
  },
};

export const statusSchema: JsonSchema = {
  type: 'object',
  description: 'Observed state, written by the operator through the status subresource.',
  properties: {
    observedGeneration: { type: 'integer', description: 'metadata.generation the status was computed from.' },
    replicas: { type: 'integer', description: 'Relay pods that exist (not being deleted).' },
    readyReplicas: { type: 'integer', description: 'Relay pods that are ready.' },
    selector: { type: 'string', description: 'Label selector of the relay pods, for the scale subresource.' },
    currentLeader: { type: 'string', description: 'Pod leading partition 0 (or the lowest led partition).' },
    leaderEpoch: { type: 'integer', description: 'Lease epoch of the current leader.' },
    leaderSince: time('When the current leader took over, as first observed by the operator.'),
    lastFailoverTime: time('When the operator last decided to evict a leader that made no progress (recorded before the eviction).'),
    partitionLeaders: {
      type: 'array',
      description: 'Leader of each led partition.',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['partition'],
      items: {
        type: 'object',
        required: ['partition', 'pod', 'epoch'],
        properties: { partition: { type: 'integer' }, pod: { type: 'string' }, epoch: { type: 'integer' } },
      },
    },
    partitions: { type: 'integer', description: 'Partition count the relay pods follow (the schema\'s), when those that answered agree.' },
    unresponsivePods: {
      type: 'array',
      description: 'Pods whose /status probe has failed continuously since the given time.',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['pod'],
      items: {
        type: 'object',
        required: ['pod', 'since'],
        properties: { pod: { type: 'string' }, since: time('First failed probe of the current run of failures.') },
      },
    },
    image: { type: 'string', description: 'Relay image the operator last applied: spec.image, else its default relay image.' },
    conditions: {
      type: 'array',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      items: condition,
    },
  },
};
