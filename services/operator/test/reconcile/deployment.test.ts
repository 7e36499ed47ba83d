import { desiredDeployment } from '../../src/reconcile/deployment';
import { CONTAINER_NAME, DEFAULT_RESOURCES, RELAY_UID } from '../../src/reconcile/pod-template';
import type { V1Container, V1EnvVar } from '../../src/api/k8s-types';
import { makeRelay, TEMPLATE_INPUTS } from './fixtures';

const container = (relay = makeRelay(), inputs = TEMPLATE_INPUTS): V1Container => {
  const c = desiredDeployment(relay, relay.spec, inputs).spec?.template.spec?.containers[0];
  if (!c) throw new Error('no container');
  return c;
};
const envOf = (c: V1Container): Record<string, V1EnvVar> => Object.fromEntries((c.env ?? []).map((e) => [e.name, e]));

describe('desiredDeployment', () => {
  test('names, labels, selector and owner reference', () => {
    const relay = makeRelay({ name: 'billing', namespace: 'pay' });
    const d = desiredDeployment(relay, relay.spec, TEMPLATE_INPUTS);
    expect(d.metadata?.name).toBe('billing');
    expect(d.metadata?.namespace).toBe('pay');
    expect(d.metadata?.labels).toEqual({
      'app.kubernetes.io/name': 'outbox-relay',
      'app.kubernetes.io/instance': 'billing',
      'app.kubernetes.io/managed-by': 'outbox-relay-operator',
      'app.kubernetes.io/component': 'relay',
    });
    // The selector is immutable on a Deployment: only the two stable labels, never managed-by or component.
    expect(d.spec?.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'outbox-relay', 'app.kubernetes.io/instance': 'billing' });
    expect(d.spec?.template.metadata?.labels).toMatchObject(d.spec?.selector.matchLabels ?? { missing: true });
    expect(d.metadata?.ownerReferences).toEqual([
      {
        apiVersion: 'outbox-relay.dev/v1alpha1',
        kind: 'OutboxRelay',
        name: 'billing',
        uid: relay.metadata?.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });

  test.each([0, 1, 3, 7])('replicas follow spec.replicas (%i)', (replicas) => {
    const relay = makeRelay({ spec: { replicas } });
    expect(desiredDeployment(relay, relay.spec, TEMPLATE_INPUTS).spec?.replicas).toBe(replicas);
  });

  test('keeps a standby during rollouts: surge one, never go below the desired count', () => {
    const relay = makeRelay();
    expect(desiredDeployment(relay, relay.spec, TEMPLATE_INPUTS).spec?.strategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
  });

  test('container: image, pull policy, command, workdir, port', () => {
    const c = container(makeRelay({ spec: { image: 'registry.local/relay:9', imagePullPolicy: 'Always' } }), { ...TEMPLATE_INPUTS, image: 'registry.local/relay:9' });
    expect(c.name).toBe(CONTAINER_NAME);
    expect(c.image).toBe('registry.local/relay:9');
    expect(c.imagePullPolicy).toBe('Always');
    expect(c.command).toEqual(['node', 'services/relay/dist/main.js']);
    expect(c.workingDir).toBe('/app');
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8090, protocol: 'TCP' }]);
    // Unset, the image is the operator's default (its RELAY_IMAGE), which reconcile hands to the template.
    expect(container().image).toBe(TEMPLATE_INPUTS.image);
    expect(container().imagePullPolicy).toBeUndefined();
  });

  test('probes: readiness on /readyz, liveness on /healthz, both on the named port', () => {
    const c = container();
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    // Liveness must be more patient than readiness, or a slow start gets the process killed.
    const patience = (p: typeof c.livenessProbe) => (p?.periodSeconds ?? 0) * (p?.failureThreshold ?? 0);
    expect(patience(c.livenessProbe)).toBeGreaterThan(patience(c.readinessProbe));
  });

  test('security: non-root uid 10001, read-only root fs, no privilege escalation, no capabilities, no token', () => {
    const relay = makeRelay();
    const pod = desiredDeployment(relay, relay.spec, TEMPLATE_INPUTS).spec?.template.spec;
    expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: RELAY_UID, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod?.automountServiceAccountToken).toBe(false);
    expect(pod?.serviceAccountName).toBe('orders');
    expect(container(relay).securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 10001,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
  });

  test('read-only root fs gets a writable /tmp emptyDir (and the admin token, read-only: admin-token.test.ts)', () => {
    const relay = makeRelay();
    const pod = desiredDeployment(relay, relay.spec, TEMPLATE_INPUTS).spec?.template.spec;
    expect(pod?.volumes?.map((v) => v.name)).toEqual(['tmp', 'admin-token']);
    expect(pod?.volumes?.[0]).toEqual({ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } });
    expect(container(relay).volumeMounts?.map((m) => m.name)).toEqual(['tmp', 'admin-token']);
    expect(container(relay).volumeMounts?.[0]).toEqual({ name: 'tmp', mountPath: '/tmp' });
  });

  test('env comes from the spec; the database URL only through a secretKeyRef', () => {
    const relay = makeRelay({
      spec: {
        database: { secretRef: { name: 'db-secret', key: 'DATABASE_URL' }, schema: 'orders_outbox', confirmingStandbys: 1 },
        nats: { url: 'tls://nats:4222', stream: 'ORDERS', subjectPrefix: 'shop.orders', duplicateWindowSeconds: 300 },
        partitionCount: 8,
        batchSize: 250,
        batchMaxBytes: 65_536,
        publishWindow: 200,
        leaseDurationMs: 3000,
        renewIntervalMs: 1000,
        logLevel: 'debug',
      },
    });
    const env = envOf(container(relay));
    expect(env.DATABASE_URL).toEqual({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db-secret', key: 'DATABASE_URL' } } });
    const values = Object.fromEntries(Object.values(env).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    expect(values).toEqual({
      OUTBOX_SCHEMA: 'orders_outbox',
      OUTBOX_CONFIRMING_STANDBYS: '1',
      NATS_URL: 'tls://nats:4222',
      OUTBOX_STREAM: 'ORDERS',
      OUTBOX_STREAM_MANAGEMENT: 'create',
      OUTBOX_SUBJECT_PREFIX: 'shop.orders',
      OUTBOX_DUPLICATE_WINDOW_MS: '300000',
      OUTBOX_MESSAGE_HEADERS: 'outbox',
      OUTBOX_BATCH_SIZE: '250',
      OUTBOX_BATCH_MAX_BYTES: '65536',
      OUTBOX_PUBLISH_WINDOW: '200',
      OUTBOX_LEASE_MS: '3000',
      OUTBOX_RENEW_MS: '1000',
      RELAY_HTTP_PORT: '8090',
      LOG_LEVEL: 'debug',
      OUTBOX_ADMIN_TOKEN_FILE: '/var/run/secrets/outbox-relay-admin/token',
    });
    expect(env.RELAY_INSTANCE_ID?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    // spec.partitionCount (8 here) reaches the schema through a Job, never the relays: they follow the schema's count.
    expect(env.OUTBOX_PARTITIONS).toBeUndefined();
    expect(env.NATS_CREDS_FILE).toBeUndefined();
    // No value anywhere may carry a URL with a password.
    expect(JSON.stringify(container(relay))).not.toMatch(/postgres:\/\//);
  });

  test('the header mode and the CloudEvents source reach the relay; an unset source is left to the relay', () => {
    const withSource = envOf(container(makeRelay({ spec: { nats: { messageHeaders: 'cloudevents', cloudEventsSource: 'https://shop.example/orders' } } })));
    expect(withSource.OUTBOX_MESSAGE_HEADERS?.value).toBe('cloudevents');
    expect(withSource.OUTBOX_CLOUDEVENTS_SOURCE?.value).toBe('https://shop.example/orders');
    const withoutSource = envOf(container(makeRelay({ spec: { nats: { messageHeaders: 'both' } } })));
    expect(withoutSource.OUTBOX_MESSAGE_HEADERS?.value).toBe('both');
    expect(withoutSource.OUTBOX_CLOUDEVENTS_SOURCE).toBeUndefined();
  });

  test('NATS credentials: the secret key mounted read-only and pointed to by NATS_CREDS_FILE', () => {
    const relay = makeRelay({ spec: { nats: { credentialsSecretRef: { name: 'nats-user', key: 'relay.creds' } } } });
    const c = container(relay);
    expect(envOf(c).NATS_CREDS_FILE?.value).toBe('/var/run/secrets/nats/relay.creds');
    expect(c.volumeMounts).toContainEqual({ name: 'nats-credentials', mountPath: '/var/run/secrets/nats', readOnly: true });
    const volumes = desiredDeployment(relay, relay.spec, TEMPLATE_INPUTS).spec?.template.spec?.volumes;
    expect(volumes).toContainEqual({
      name: 'nats-credentials',
      secret: { secretName: 'nats-user', items: [{ key: 'relay.creds', path: 'relay.creds' }], defaultMode: 0o440 },
    });
  });

  test('resources: from the spec, else the defaults', () => {
    const resources = { requests: { cpu: '1', memory: '1Gi' }, limits: { cpu: '2', memory: '2Gi' } };
    expect(container(makeRelay({ spec: { resources } })).resources).toEqual(resources);
    expect(container().resources).toEqual(DEFAULT_RESOURCES);
  });

  test('a spec change changes the pod template (so the Deployment rolls), a replica change does not', () => {
    const template = (spec: Parameters<typeof makeRelay>[0]) => {
      const relay = makeRelay(spec);
      return JSON.stringify(desiredDeployment(relay, relay.spec, TEMPLATE_INPUTS).spec?.template);
    };
    expect(template({ spec: { batchSize: 10 } })).not.toBe(template({ spec: { batchSize: 20 } }));
    expect(template({ spec: { replicas: 1 } })).toBe(template({ spec: { replicas: 5 } }));
  });
});
