/** What the demo chart's tests share: where it renders, its workloads, and how a service would read its environment. */
import type { z } from 'zod';
import { parseEnv } from '@outbox-relay/runtime';
import { ordersEnvSchema } from '../../../services/orders/src/config';
import { paymentsEnvSchema } from '../../../services/payments/src/config';
import { subscriberEnvSchema } from '../../../services/subscriber/src/config';
import { onlyContainer, resolveEnv, secretsOf, type KubeObject } from './kube-objects';

export const DEMO_CHART = 'helm/outbox-relay-demo';
export const DEMO_RELEASE = 'shop';
export const DEMO_NAMESPACE = 'outbox-demo';
/** The names of the release's objects: `<release>-outbox-relay-demo-<suffix>`. */
export const DEMO_PREFIX = 'shop-outbox-relay-demo';

/** Each workload, the process its container runs, and the service's own environment schema. */
export const DEMO_COMPONENTS = [
  { kind: 'Deployment', suffix: 'orders', main: 'services/orders/dist/main.js', schema: ordersEnvSchema },
  { kind: 'StatefulSet', suffix: 'subscriber', main: 'services/subscriber/dist/main.js', schema: subscriberEnvSchema },
  { kind: 'Deployment', suffix: 'payments', main: 'services/payments/dist/main.js', schema: paymentsEnvSchema },
] as const;

/** What the service would read from its environment in this workload's first pod; throws as the service would. */
export function serviceConfig<S extends z.ZodObject>(objects: KubeObject[], workload: KubeObject, schema: S): z.output<S> {
  const env = resolveEnv(onlyContainer(workload).env, {
    secrets: secretsOf(objects),
    fields: { 'metadata.name': `${workload.metadata.name}-0`, 'metadata.namespace': DEMO_NAMESPACE },
  });
  // zod ignores unknown keys, so a misspelled variable would pass unnoticed: each name must be one the service reads.
  const unknown = Object.keys(env).filter((name) => !(name in schema.shape));
  if (unknown.length > 0) throw new Error(`${workload.metadata.name} sets variables its service does not read: ${unknown.join(', ')}`);
  return parseEnv(schema, env);
}
