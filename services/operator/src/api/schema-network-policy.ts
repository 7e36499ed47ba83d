import type { JsonSchema } from './schema-types';

/** Most peers in spec.networkPolicy.metricsFrom: a few scrapers, not a firewall's rule set. */
export const MAX_METRICS_PEERS = 16;

const stringMap: JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };

/** metav1.LabelSelector, as NetworkPolicyPeer's pod and namespace selectors take it. */
const labelSelector = (description: string): JsonSchema => ({
  type: 'object',
  description,
  properties: {
    matchLabels: stringMap,
    matchExpressions: {
      type: 'array',
      maxItems: 32,
      items: {
        type: 'object',
        required: ['key', 'operator'],
        properties: {
          key: { type: 'string', maxLength: 317 },
          operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
          values: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 63 } },
        },
      },
    },
  },
});

/** networking.k8s.io/v1 NetworkPolicyPeer. */
const peer: JsonSchema = {
  type: 'object',
  properties: {
    podSelector: labelSelector('Pods (in the OutboxRelay\'s namespace, or in those namespaceSelector picks).'),
    namespaceSelector: labelSelector('Namespaces whose pods (all, or those podSelector picks) may connect.'),
    ipBlock: {
      type: 'object',
      required: ['cidr'],
      properties: {
        cidr: { type: 'string', maxLength: 64 },
        except: { type: 'array', maxItems: 32, items: { type: 'string', maxLength: 64 } },
      },
    },
  },
};

/** spec.networkPolicy of an OutboxRelay. */
export const networkPolicySchema: JsonSchema = {
  type: 'object',
  description:
    'A NetworkPolicy the operator keeps in front of the relay pods: ingress to their HTTP port (/metrics, /status, probes, POST /step-down) only from the operator\'s pods and metricsFrom. Egress is not restricted.',
  properties: {
    enabled: { type: 'boolean', description: 'Create the NetworkPolicy (false: none, and one the operator made is deleted).', default: false },
    metricsFrom: {
      type: 'array',
      description: 'NetworkPolicyPeers allowed in besides the operator, e.g. Prometheus\'s namespace and pods.',
      maxItems: MAX_METRICS_PEERS,
      items: peer,
    },
  },
};
