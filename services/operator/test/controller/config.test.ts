import { ConfigError } from '@outbox-relay/runtime';
import { DEFAULT_IMAGE } from '../../src/api/limits';
import { loadConfig } from '../../src/config';

describe('loadConfig', () => {
  test('defaults: all namespaces, leader election in the pod namespace with client-go timings', () => {
    const config = loadConfig({ POD_NAME: 'operator-7f9c', POD_NAMESPACE: 'outbox-relay-system' });
    expect(config).toEqual({
      identity: 'operator-7f9c',
      leaderElection: {
        namespace: 'outbox-relay-system',
        leaseName: 'outbox-relay-operator',
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 2_000,
      },
      httpPort: 8080,
      logLevel: 'info',
      resyncMs: 30_000,
      relistMs: 300_000,
      workers: 2,
      operatorPods: {
        namespace: 'outbox-relay-system',
        labels: { 'app.kubernetes.io/name': 'outbox-relay-operator', 'app.kubernetes.io/component': 'operator' },
      },
      probeTimeoutMs: 1000,
      relayImage: DEFAULT_IMAGE,
      apiTimeoutMs: 10_000,
    });
  });

  test("OPERATOR_POD_LABELS names the operator's pods for the relays' NetworkPolicies; without POD_NAMESPACE they are unknown", () => {
    expect(loadConfig({ POD_NAMESPACE: 'ops', OPERATOR_POD_LABELS: 'app=op,tier=control' }).operatorPods).toEqual({ namespace: 'ops', labels: { app: 'op', tier: 'control' } });
    expect(loadConfig({ LEADER_ELECTION: 'false' }).operatorPods).toBeUndefined();
    expect(() => loadConfig({ POD_NAMESPACE: 'ops', OPERATOR_POD_LABELS: 'app' })).toThrow(/OPERATOR_POD_LABELS: must be labels as key=value,key2=value2/);
  });

  test('RELAY_IMAGE is the default relay image (empty: the built-in one); one with a space is refused by name', () => {
    expect(loadConfig({ POD_NAMESPACE: 'ops', RELAY_IMAGE: 'registry.local/outbox-relay:1.2.3' }).relayImage).toBe('registry.local/outbox-relay:1.2.3');
    expect(loadConfig({ POD_NAMESPACE: 'ops', RELAY_IMAGE: '' }).relayImage).toBe(DEFAULT_IMAGE);
    expect(() => loadConfig({ POD_NAMESPACE: 'ops', RELAY_IMAGE: 'registry.local/outbox relay:1' })).toThrow(/RELAY_IMAGE/);
  });

  test('an empty WATCH_NAMESPACE means every namespace; a set one limits the watch', () => {
    expect(loadConfig({ POD_NAMESPACE: 'ops', WATCH_NAMESPACE: '' }).watchNamespace).toBeUndefined();
    expect(loadConfig({ POD_NAMESPACE: 'ops', WATCH_NAMESPACE: 'shop' }).watchNamespace).toBe('shop');
  });

  test('leader election can be turned off, and then needs no namespace', () => {
    const config = loadConfig({ LEADER_ELECTION: 'false', KUBECONFIG: '/tmp/kubeconfig' });
    expect(config.leaderElection).toBeUndefined();
    expect(config.kubeconfigPath).toBe('/tmp/kubeconfig');
    expect(config.identity).toMatch(/-\d+$/);
  });

  test('every bad variable is named', () => {
    let error: unknown;
    try {
      loadConfig({ POD_NAMESPACE: 'ops', WORKERS: '0', OPERATOR_HTTP_PORT: 'http', WATCH_NAMESPACE: 'Not_A_Namespace', LEADER_ELECTION: 'maybe' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variables.sort()).toEqual(['LEADER_ELECTION', 'OPERATOR_HTTP_PORT', 'WATCH_NAMESPACE', 'WORKERS']);
  });

  test('cross-field rules: renew deadline below the lease, and a namespace for the Lease', () => {
    expect(() => loadConfig({ POD_NAMESPACE: 'ops', LEADER_ELECTION_LEASE_DURATION_MS: '5000', LEADER_ELECTION_RENEW_DEADLINE_MS: '6000' })).toThrow(
      /LEADER_ELECTION_RENEW_DEADLINE_MS: must be below LEADER_ELECTION_LEASE_DURATION_MS/,
    );
    expect(() => loadConfig({})).toThrow(/LEADER_ELECTION_NAMESPACE: is required when LEADER_ELECTION is on/);
  });

  test('the retry period must leave room for retries before the renew deadline', () => {
    expect(() =>
      loadConfig({ POD_NAMESPACE: 'ops', LEADER_ELECTION_RENEW_DEADLINE_MS: '1000', LEADER_ELECTION_RETRY_PERIOD_MS: '1000' }),
    ).toThrow(/LEADER_ELECTION_RETRY_PERIOD_MS/);
  });
});
