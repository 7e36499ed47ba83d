import fs from 'node:fs';
import { ordersEnvSchema } from '../../services/orders/src/config';
import { paymentsEnvSchema } from '../../services/payments/src/config';
import { subscriberEnvSchema } from '../../services/subscriber/src/config';
import { RELAY_UID } from '../../services/operator/src/reconcile/pod-template';
import { renderChart, runHelm } from './support/helm';
import { findObject, onlyContainer, podTemplateOf, secretsOf, selects } from './support/kube-objects';
import { readManifests, validateObject, validateOutboxRelay } from './support/kube-schemas';
import { fromRoot } from './support/paths';
import { DEMO_CHART, DEMO_COMPONENTS, DEMO_NAMESPACE, DEMO_PREFIX, DEMO_RELEASE, serviceConfig } from './support/demo-chart';

const CHART = DEMO_CHART;
const RELEASE = DEMO_RELEASE;
const NAMESPACE = DEMO_NAMESPACE;
const PREFIX = DEMO_PREFIX;
const COMPONENTS = DEMO_COMPONENTS;

type Set = Record<string, string | number | boolean>;
const render = (set: Set = {}) => renderChart(CHART, { release: RELEASE, namespace: NAMESPACE, set });

describe('helm/outbox-relay-demo', () => {
  test('helm lint --strict passes', () => {
    const run = runHelm(['lint', '--strict', fromRoot(CHART)]);
    expect(run.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(run.status).toBe(0);
  });

  test.each([
    ['defaults', {}],
    ['the kind demo values', undefined],
    ['no payment worker, no OutboxRelay, an existing Secret', { 'payments.enabled': false, 'outboxRelay.enabled': false, 'database.secret.create': false }],
    ['4 partitions and embedded relays', { 'outbox.partitions': 4, 'orders.embeddedRelay': true, 'payments.embeddedRelay': true }],
  ])('every object rendered with %s is a valid Kubernetes object (the OutboxRelay: valid for the CRD)', (_name, set) => {
    const objects = set ? render(set) : renderChart(CHART, { release: 'outbox-relay-demo', namespace: NAMESPACE, valuesFiles: ['deploy/kind/demo-values.yaml'] });
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) expect(() => validateObject(object)).not.toThrow();
  });

  test('the defaults: 3 order replicas, 3 subscribers, the payment worker, an OutboxRelay and the database Secret', () => {
    const objects = render();
    expect(findObject(objects, 'Deployment', `${PREFIX}-orders`).spec.replicas).toBe(3);
    expect(findObject(objects, 'StatefulSet', `${PREFIX}-subscriber`).spec.replicas).toBe(3);
    expect(findObject(objects, 'Deployment', `${PREFIX}-payments`).spec.replicas).toBe(1);
    expect(findObject(objects, 'OutboxRelay', 'orders-relay').spec.replicas).toBe(2);
    expect(secretsOf(objects)['orders-outbox-db']).toEqual({ url: 'postgres://outbox:outbox-demo@postgres.databases.svc:5432/outbox' });
  });

  test.each(COMPONENTS)("the $suffix container runs a built entry point, hardened, and its environment passes the service's own validation", ({ kind, suffix, main, schema }) => {
    const objects = render();
    const workload = findObject(objects, kind, `${PREFIX}-${suffix}`);
    const container = onlyContainer(workload);
    expect(container.command).toEqual(['node', main]);
    expect(container.workingDir).toBe('/app');
    expect(fs.existsSync(fromRoot(main))).toBe(true);
    expect(podTemplateOf(workload).spec!.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: RELAY_UID });
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    // Probes use the named port the container declares.
    const portNames = container.ports?.map((p) => p.name);
    expect(portNames).toContain(container.readinessProbe?.httpGet?.port);
    expect(portNames).toContain(container.livenessProbe?.httpGet?.port);
    expect(() => serviceConfig(objects, workload, schema)).not.toThrow();
  });

  test('the services agree on the outbox, the stream and the relay: orders and payments leave publishing to the OutboxRelay', () => {
    const objects = render();
    const orders = serviceConfig(objects, findObject(objects, 'Deployment', `${PREFIX}-orders`), ordersEnvSchema);
    const payments = serviceConfig(objects, findObject(objects, 'Deployment', `${PREFIX}-payments`), paymentsEnvSchema);
    const subscriber = serviceConfig(objects, findObject(objects, 'StatefulSet', `${PREFIX}-subscriber`), subscriberEnvSchema);
    const relay = findObject(objects, 'OutboxRelay', 'orders-relay').spec;

    // Each service owns its tables: the order service follows the payment events and moves its orders itself.
    expect(orders).toMatchObject({ OUTBOX_MIGRATE: true, ORDERS_RELAY_ENABLED: false, ORDERS_PAYMENT_EVENTS: true, OUTBOX_PARTITIONS: 1, PORT: 8081 });
    expect(payments).toMatchObject({ OUTBOX_MIGRATE: true, PAYMENTS_RELAY_ENABLED: false });
    expect(payments.PAYMENTS_SCHEMA).not.toBe(orders.ORDERS_SCHEMA);
    expect(payments).not.toHaveProperty('ORDERS_SCHEMA');
    for (const config of [orders, payments]) {
      expect(config.DATABASE_URL).toBe('postgres://outbox:outbox-demo@postgres.databases.svc:5432/outbox');
      expect(config.OUTBOX_SCHEMA).toBe(relay.database.schema);
      expect(config.OUTBOX_PARTITIONS).toBe(1);
    }
    // The services' migrations own the count; an OutboxRelay partitionCount as well would make two owners.
    expect(relay).not.toHaveProperty('partitionCount');
    for (const config of [orders, payments, subscriber]) {
      expect(config.NATS_URL).toBe(relay.nats.url);
      expect(config.OUTBOX_STREAM).toBe(relay.nats.stream);
      expect(config.OUTBOX_SUBJECT_PREFIX).toBe(relay.nats.subjectPrefix);
      expect(config.OUTBOX_DUPLICATE_WINDOW_MS).toBe(relay.nats.duplicateWindowSeconds * 1000);
    }
    // The relay reads its database URL from the Secret the chart created.
    expect(secretsOf(objects)[relay.database.secretRef.name]?.[relay.database.secretRef.key]).toBe(orders.DATABASE_URL);
    // Each subscriber pod is its own durable consumer, named after the pod.
    expect(subscriber.SUBSCRIBER_ID).toBe(`${PREFIX}-subscriber-0`);
  });

  test('embedded relays get the same lease timings as the OutboxRelay, and the services accept them', () => {
    const objects = render({ 'orders.embeddedRelay': true, 'payments.embeddedRelay': true, 'outboxRelay.leaseDurationMs': 4000, 'outboxRelay.renewIntervalMs': 1000 });
    const orders = serviceConfig(objects, findObject(objects, 'Deployment', `${PREFIX}-orders`), ordersEnvSchema);
    const payments = serviceConfig(objects, findObject(objects, 'Deployment', `${PREFIX}-payments`), paymentsEnvSchema);
    expect(orders).toMatchObject({ ORDERS_RELAY_ENABLED: true, OUTBOX_LEASE_MS: 4000, OUTBOX_RENEW_MS: 1000 });
    expect(payments).toMatchObject({ PAYMENTS_RELAY_ENABLED: true, OUTBOX_LEASE_MS: 4000, OUTBOX_RENEW_MS: 1000 });
    const relay = findObject(objects, 'OutboxRelay', 'orders-relay');
    expect(relay.spec).toMatchObject({ leaseDurationMs: 4000, renewIntervalMs: 1000 });
    expect(validateOutboxRelay(relay).valid).toBe(true);
  });

  test('every relay of the outbox gets the same header mode and CloudEvents source, and the services accept them', () => {
    const set = { 'orders.embeddedRelay': true, 'payments.embeddedRelay': true, 'nats.messageHeaders': 'cloudevents', 'nats.cloudEventsSource': 'https://shop.example/orders' };
    const objects = render(set);
    const expected = { OUTBOX_MESSAGE_HEADERS: 'cloudevents', OUTBOX_CLOUDEVENTS_SOURCE: 'https://shop.example/orders' };
    expect(serviceConfig(objects, findObject(objects, 'Deployment', `${PREFIX}-orders`), ordersEnvSchema)).toMatchObject(expected);
    expect(serviceConfig(objects, findObject(objects, 'Deployment', `${PREFIX}-payments`), paymentsEnvSchema)).toMatchObject(expected);
    const relay = findObject(objects, 'OutboxRelay', 'orders-relay');
    expect(relay.spec.nats).toMatchObject({ messageHeaders: 'cloudevents', cloudEventsSource: 'https://shop.example/orders' });
    expect(validateOutboxRelay(relay).valid).toBe(true);
    // By default: the Outbox-* headers, and no source (the relays' own default, /outbox-relay/<schema>).
    const defaults = render();
    const orders = serviceConfig(defaults, findObject(defaults, 'Deployment', `${PREFIX}-orders`), ordersEnvSchema);
    expect(orders.OUTBOX_MESSAGE_HEADERS).toBe('outbox');
    expect(orders.OUTBOX_CLOUDEVENTS_SOURCE).toBeUndefined();
    expect(findObject(defaults, 'OutboxRelay', 'orders-relay').spec.nats).toMatchObject({ messageHeaders: 'outbox' });
    expect(findObject(defaults, 'OutboxRelay', 'orders-relay').spec.nats.cloudEventsSource).toBeUndefined();
  });

  test('Services select their pods through the named http port', () => {
    const objects = render();
    for (const service of objects.filter((o) => o.kind === 'Service')) {
      const workloads = objects.filter((o) => (o.kind === 'Deployment' || o.kind === 'StatefulSet') && selects(service.spec.selector, podTemplateOf(o).metadata?.labels));
      expect(workloads.map((w) => w.metadata.name)).toHaveLength(1);
      const ports = onlyContainer(workloads[0]!).ports?.map((p) => p.name);
      for (const port of service.spec.ports) expect(ports).toContain(port.targetPort);
    }
    const statefulSet = findObject(objects, 'StatefulSet');
    expect(findObject(objects, 'Service', statefulSet.spec.serviceName).spec.clusterIP).toBe('None');
  });

  test('switches: no payment worker, no OutboxRelay, an existing Secret, a NodePort', () => {
    const objects = render({
      'payments.enabled': false,
      'outboxRelay.enabled': false,
      'database.secret.create': false,
      'database.secret.name': 'existing-db',
      'orders.service.type': 'NodePort',
      'orders.service.nodePort': 30081,
    });
    expect(objects.filter((o) => o.metadata.name.endsWith('-payments') || o.kind === 'OutboxRelay' || o.kind === 'Secret')).toEqual([]);
    const env = onlyContainer(findObject(objects, 'Deployment', `${PREFIX}-orders`)).env ?? [];
    expect(env.find((e) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'existing-db', key: 'url' });
    expect(findObject(objects, 'Service', `${PREFIX}-orders`).spec).toMatchObject({ type: 'NodePort', ports: [{ nodePort: 30081 }] });
  });

  test('NOTES.txt says how to create an order, watch the relays, fail the leader over and scale', () => {
    const run = runHelm(['install', RELEASE, fromRoot(CHART), '--dry-run=client', '--namespace', NAMESPACE]);
    expect(run.status).toBe(0);
    const notes = run.stdout.slice(run.stdout.indexOf('NOTES:'));
    expect(notes).toContain('POST localhost:8081/orders');
    expect(notes).toContain('get obr orders-relay');
    expect(notes).toContain("jsonpath='{.status.currentLeader}'");
    expect(notes).toContain('scale obr/orders-relay --replicas=3');
  });
});

describe('deploy/kind: the kind demo manifests agree with the demo chart values', () => {
  const values = readManifests('deploy/kind/demo-values.yaml')[0] as unknown as {
    image: { repository: string; tag: string };
    database: { secret: { name: string; key: string }; url: string };
    nats: { url: string; stream: string; subjectPrefix: string; duplicateWindowSeconds: number };
    outbox: { schema: string; partitions: number };
    orders: { service: { nodePort: number } };
  };
  const relay = findObject(readManifests('deploy/kind/outboxrelay.yaml'), 'OutboxRelay', 'orders-relay');

  test('deploy/kind/outboxrelay.yaml is a valid OutboxRelay', () => {
    const result = validateOutboxRelay(relay);
    expect(result.errors).toEqual([]);
  });

  test('it uses the Secret, outbox and stream of the demo values, and the image the demo builds', () => {
    expect(relay.spec.database).toEqual({ secretRef: { name: values.database.secret.name, key: values.database.secret.key }, schema: values.outbox.schema });
    expect(relay.spec.nats).toEqual({
      url: values.nats.url,
      stream: values.nats.stream,
      subjectPrefix: values.nats.subjectPrefix,
      duplicateWindowSeconds: values.nats.duplicateWindowSeconds,
    });
    expect(relay.spec).not.toHaveProperty('partitionCount'); // the services' migrations set the count (values.outbox.partitions)
    const image = `${values.image.repository}:${values.image.tag}`;
    expect(relay.spec.image).toBe(image);
    const operatorValues = readManifests('deploy/kind/operator-values.yaml')[0] as unknown as { image: { repository: string; tag: string } };
    expect(`${operatorValues.image.repository}:${operatorValues.image.tag}`).toBe(image);
    const script = fs.readFileSync(fromRoot('scripts/demo-kind.sh'), 'utf8');
    expect(script).toContain(`image="${image}"`);
  });

  test('Postgres and NATS in deploy/kind serve the URLs the demo values use', () => {
    const postgres = readManifests('deploy/kind/postgres.yaml');
    const auth = secretsOf(postgres)['postgres']!;
    const pgService = findObject(postgres, 'Service', 'postgres');
    expect(values.database.url).toBe(
      `postgres://${auth.POSTGRES_USER}:${auth.POSTGRES_PASSWORD}@${pgService.metadata.name}.${pgService.metadata.namespace}.svc:${pgService.spec.ports[0].port}/${auth.POSTGRES_DB}`,
    );
    const nats = readManifests('deploy/kind/nats.yaml');
    const natsService = findObject(nats, 'Service', 'nats');
    const client = natsService.spec.ports.find((p: { name: string }) => p.name === 'client');
    expect(values.nats.url).toBe(`nats://${natsService.metadata.name}.${natsService.metadata.namespace}.svc:${client.port}`);
    expect(onlyContainer(findObject(nats, 'StatefulSet', 'nats')).args).toContain('--jetstream');
  });

  test('the orders NodePort is the port kind publishes on the host and the demo script calls', () => {
    const cluster = readManifests('deploy/kind/cluster.yaml')[0]!;
    expect(cluster).toMatchObject({ kind: 'Cluster', apiVersion: 'kind.x-k8s.io/v1alpha4' });
    const mappings = (cluster.nodes as Array<{ role: string; extraPortMappings?: Array<{ containerPort: number; hostPort: number }> }>).flatMap(
      (n) => n.extraPortMappings ?? [],
    );
    expect(mappings).toContainEqual(expect.objectContaining({ containerPort: values.orders.service.nodePort, hostPort: 30081 }));
    expect(fs.readFileSync(fromRoot('scripts/demo-kind.sh'), 'utf8')).toContain('orders_url="http://127.0.0.1:30081"');
  });

  test.each(['deploy/kind/postgres.yaml', 'deploy/kind/nats.yaml'])('every object of %s is a valid Kubernetes object', (file) => {
    const objects = readManifests(file);
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) expect(() => validateObject(object)).not.toThrow();
  });
});
