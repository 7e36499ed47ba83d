import type { V1Service } from '../api/k8s-types';
import type { OutboxRelayResource } from '../api/types';
import { RELAY_HTTP_PORT } from './env';
import { childMetadata, selectorLabels } from './metadata';

/** ClusterIP Service in front of the relays' HTTP port (health, status, metrics scraping). */
export function desiredService(relay: OutboxRelayResource): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(relay),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(relay),
      ports: [{ name: 'http', port: RELAY_HTTP_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}
