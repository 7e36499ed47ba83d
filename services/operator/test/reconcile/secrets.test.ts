import type { OutboxRelaySpecInput } from '../../src/api/defaults';
import type { V1Deployment } from '../../src/api/k8s-types';
import { reconcile } from '../../src/reconcile';
import { checkSecrets, referencedSecrets, relaysReading, SECRETS_HASH_ANNOTATION, type ObservedSecret } from '../../src/reconcile/secrets';
import { makePod, makeRelay, observe, presentSecrets } from './fixtures';

const SPEC: OutboxRelaySpecInput = {
  nats: {
    url: 'tls://nats:4222',
    credentialsSecretRef: { name: 'nats-user', key: 'relay.creds' },
    tls: { secretName: 'nats-tls', caKey: 'ca.crt' },
  },
  template: {
    container: {
      env: [
        { name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'tokens', key: 'api' } } },
        { name: 'MAYBE', valueFrom: { secretKeyRef: { name: 'optional-one', key: 'x', optional: true } } },
        { name: 'PLAIN', value: 'v' },
      ],
      envFrom: [{ secretRef: { name: 'extra-env' } }, { configMapRef: { name: 'not-a-secret' } }],
    },
  },
};
const relay = makeRelay({ spec: SPEC });
const refs = referencedSecrets(relay.spec);
const all = (): ObservedSecret[] => [
  { name: 'orders-db', data: { url: 'ZGI=', unrelated: 'eA==' } },
  { name: 'nats-user', data: { 'relay.creds': 'Y3JlZHM=' } },
  { name: 'nats-tls', data: { 'ca.crt': 'Y2E=', 'tls.crt': 'Y2VydA==' } },
  { name: 'tokens', data: { api: 'dG9r' } },
  { name: 'extra-env', data: { A: 'MQ==' } },
];
const hashOf = (secrets: ObservedSecret[]) => checkSecrets(refs, secrets).hash;
const change = (name: string, key: string, value: string) =>
  all().map((s) => (s.name === name ? { ...s, data: { ...s.data, [key]: value } } : s));

describe('referencedSecrets', () => {
  test('the database, NATS credentials and TLS Secrets, and the user\'s env and envFrom ones; never a ConfigMap', () => {
    expect(refs.map((r) => [r.name, r.keys, r.optional, r.field])).toEqual([
      ['orders-db', ['url'], false, 'spec.database.secretRef'],
      ['nats-user', ['relay.creds'], false, 'spec.nats.credentialsSecretRef'],
      ['nats-tls', ['ca.crt'], false, 'spec.nats.tls.secretName'],
      ['tokens', ['api'], false, 'spec.template.container.env[0].valueFrom.secretKeyRef'],
      ['optional-one', ['x'], true, 'spec.template.container.env[1].valueFrom.secretKeyRef'],
      ['extra-env', 'all', false, 'spec.template.container.envFrom[0].secretRef'],
    ]);
  });
});

describe('relaysReading (which relays a Secret event wakes)', () => {
  const billing = makeRelay({ name: 'billing', spec: { database: { secretRef: { name: 'billing-db', key: 'url' } } } });
  const elsewhere = makeRelay({ name: 'orders', namespace: 'other', spec: SPEC });
  const relays = [relay, billing, elsewhere];

  test('only the relays of that namespace that read it, whatever the field that names it', () => {
    expect(relaysReading('shop', 'orders-db', relays)).toEqual(['orders']);
    expect(relaysReading('shop', 'billing-db', relays)).toEqual(['billing']);
    expect(relaysReading('shop', 'extra-env', relays)).toEqual(['orders']);
    expect(relaysReading('other', 'extra-env', relays)).toEqual(['orders']);
    expect(relaysReading('shop', 'unrelated', relays)).toEqual([]);
    expect(relaysReading('shop', 'not-a-secret', relays)).toEqual([]);
  });
});

describe('checkSecrets', () => {
  test('the hash moves with every key the pods read, and only with those', () => {
    const base = hashOf(all());
    expect(hashOf(all())).toBe(base);
    for (const [name, key] of [['orders-db', 'url'], ['nats-user', 'relay.creds'], ['nats-tls', 'ca.crt'], ['tokens', 'api'], ['extra-env', 'A']]) {
      expect([name, key, hashOf(change(name!, key!, 'bmV3'))]).not.toEqual([name, key, base]);
    }
    // envFrom reads the whole Secret: a new key there is a new variable.
    expect(hashOf(change('extra-env', 'B', 'Mg=='))).not.toBe(base);
    // A key no pod reads, and the order the Secrets come in, change nothing.
    expect(hashOf(change('orders-db', 'unrelated', 'eQ=='))).toBe(base);
    expect(hashOf(change('nats-tls', 'tls.crt', 'eQ=='))).toBe(base);
    expect(hashOf([...all()].reverse())).toBe(base);
  });

  test('an optional Secret may be absent; its creation changes the hash (the pods then read it)', () => {
    expect(checkSecrets(refs, all()).missing).toEqual([]);
    expect(hashOf([...all(), { name: 'optional-one', data: { x: 'MQ==' } }])).not.toBe(hashOf(all()));
  });

  test('a missing required Secret or key is named with the field that references it', () => {
    const withoutDb = all().filter((s) => s.name !== 'orders-db');
    expect(checkSecrets(refs, withoutDb).missing).toEqual(['Secret orders-db (spec.database.secretRef) does not exist']);
    const withoutKey = all().map((s) => (s.name === 'tokens' ? { ...s, data: {} } : s));
    expect(checkSecrets(refs, withoutKey).missing).toEqual(['Secret tokens has no key api (spec.template.container.env[0].valueFrom.secretKeyRef)']);
  });
});

describe('Secrets through reconcile', () => {
  const hashAnnotation = (secrets: ObservedSecret[]) => {
    const deployment = reconcile(observe(relay, [], { secrets })).objects.find((o) => o.kind === 'Deployment') as V1Deployment;
    return deployment.spec?.template.metadata?.annotations?.[SECRETS_HASH_ANNOTATION];
  };

  test('the pod template carries the hash, so a changed Secret rolls the pods', () => {
    expect(hashAnnotation(all())).toBe(hashOf(all()));
    expect(hashAnnotation(change('orders-db', 'url', 'b3RoZXI='))).not.toBe(hashAnnotation(all()));
  });

  test('a missing Secret: nothing applied, no action, Degraded/Progressing/Ready say which; one Warning', () => {
    const secrets = presentSecrets(relay).filter((s) => s.name !== 'nats-tls');
    const result = reconcile(observe(relay, [makePod('orders-a')], { secrets }));
    expect(result.objects).toEqual([]);
    expect(result.actions).toEqual([]);
    expect(result.podAnnotations).toEqual([]);
    const conditions = Object.fromEntries((result.status.conditions ?? []).map((c) => [c.type, c]));
    expect(conditions.Degraded).toMatchObject({ status: 'True', reason: 'SecretMissing', message: expect.stringContaining('Secret nats-tls (spec.nats.tls.secretName) does not exist') });
    expect(conditions.Progressing).toMatchObject({ status: 'False', reason: 'SecretMissing' });
    expect(result.events).toContainEqual({ type: 'Warning', reason: 'SecretMissing', message: conditions.Degraded?.message });

    // A relay with no pods yet is not Ready, and says why.
    const fresh = reconcile(observe(relay, [], { secrets, deployment: null }));
    expect(fresh.status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'SecretMissing' });
  });
});
