/** @jest-environment ./services/operator/test/support/client-node-environment.ts */
jest.mock('@kubernetes/client-node', () => (globalThis as unknown as ClientNodeGlobal).loadClientNode());

import { KubeLeaseLock } from '../../src/kube/lease-lock';
import { OperatorLeaderElector } from '../../src/leader-election';
import { FakeKubeApi, type JsonObject } from '../support/fake-kube-api';
import { kubeConfigFor, type ClientNodeGlobal } from '../support/kube';
import { testLogger } from '../support/logger';
import { waitFor } from '@outbox-relay/test-support';

const ns = 'election';
const LEASE_MS = 1000;
/** For the graceful hand-over: long enough that taking over faster can only come from the release. */
const LONG_LEASE_MS = 5000;

interface Candidate {
  elector: OperatorLeaderElector;
  abort: AbortController;
  done: Promise<void>;
  log: string[];
}

describe('OperatorLeaderElector over a Lease', () => {
  let api: FakeKubeApi;
  const candidates: Candidate[] = [];

  function candidate(identity: string, options: { releaseOnStop?: boolean; leaseDurationMs?: number } = {}): Candidate {
    const elector = new OperatorLeaderElector({
      lock: new KubeLeaseLock(kubeConfigFor(api.url, ns), ns, 'operator'),
      identity,
      leaseDurationMs: LEASE_MS,
      renewDeadlineMs: 600,
      retryPeriodMs: 100,
      logger: testLogger,
      ...options,
    });
    const abort = new AbortController();
    const log: string[] = [];
    const done = elector.run(
      { onStartedLeading: () => void log.push('started'), onStoppedLeading: () => void log.push('stopped') },
      abort.signal,
    );
    const c = { elector, abort, done, log };
    candidates.push(c);
    return c;
  }

  const lease = () => api.get('coordination.k8s.io/v1', 'Lease', ns, 'operator')?.spec as JsonObject | undefined;

  beforeEach(async () => {
    api = await FakeKubeApi.start();
  });
  afterEach(async () => {
    for (const c of candidates.splice(0)) {
      c.abort.abort();
      await c.done;
    }
    await api.close();
  });

  test('of two candidates exactly one leads, and keeps renewing', async () => {
    const a = candidate('operator-a');
    const b = candidate('operator-b');
    const leader = await waitFor('a leader', () => (a.elector.isLeader ? a : b.elector.isLeader ? b : undefined));
    const follower = leader === a ? b : a;
    const firstRenew = lease()?.renewTime;
    await waitFor('a renewal', () => lease()?.renewTime !== firstRenew);
    expect(leader.elector.isLeader).toBe(true);
    expect(follower.elector.isLeader).toBe(false);
    expect(follower.log).toEqual([]);
    expect(lease()?.holderIdentity).toBe(leader === a ? 'operator-a' : 'operator-b');
  });

  test('a leader that stops gracefully hands over at once, without waiting out the lease', async () => {
    const a = candidate('operator-a', { leaseDurationMs: LONG_LEASE_MS });
    await waitFor('a leads', () => a.elector.isLeader);
    const b = candidate('operator-b', { leaseDurationMs: LONG_LEASE_MS });
    await waitFor('b has seen the lease held', () => api.requests.some((r) => r.resource === 'leases' && r.verb === 'get' && r.status === 200));
    const stoppedAt = Date.now();
    a.abort.abort();
    await a.done;
    expect(a.log).toEqual(['started', 'stopped']);
    await waitFor('b leads', () => b.elector.isLeader);
    // b retries every ~100-120 ms; waiting for the lease to expire would take 5 s after a's last renewal.
    expect(Date.now() - stoppedAt).toBeLessThan(LONG_LEASE_MS);
    expect(lease()).toMatchObject({ holderIdentity: 'operator-b', leaseTransitions: 1 });
  });

  test('a leader that vanishes without releasing is replaced only after the lease expires', async () => {
    const a = candidate('operator-a', { releaseOnStop: false });
    await waitFor('a leads', () => a.elector.isLeader);
    const b = candidate('operator-b');
    await waitFor('b has seen the lease held', () => api.requests.some((r) => r.resource === 'leases' && r.verb === 'get' && r.status === 200));
    a.abort.abort();
    await a.done;
    const lastRenewal = Date.parse(String(lease()?.renewTime));
    await waitFor('b leads', () => b.elector.isLeader, 5000);
    const acquired = Date.parse(String(lease()?.acquireTime));
    expect(acquired - lastRenewal).toBeGreaterThanOrEqual(LEASE_MS - 50);
    expect(lease()?.holderIdentity).toBe('operator-b');
  });

  test('a leader that cannot renew within the renew deadline stops leading', async () => {
    const a = candidate('operator-a');
    await waitFor('a leads', () => a.elector.isLeader);
    api.failNext(1000, { status: 503, match: (r) => r.resource === 'leases' });
    await a.done;
    expect(a.elector.isLeader).toBe(false);
    expect(a.log).toEqual(['started', 'stopped']);
  });

  test('a leader whose renewal hangs (no answer, no error) stops leading once the renew deadline passes', async () => {
    const a = candidate('operator-a');
    await waitFor('a leads', () => a.elector.isLeader);
    // A half-open connection: the API server takes the request and never answers. Only a deadline ends it.
    const hold = api.holdRequests((r) => r.resource === 'leases');
    await hold.whenHeld(1);
    await a.done;
    expect(a.log).toEqual(['started', 'stopped']);
    expect(a.elector.isLeader).toBe(false);
    // Ended by the client: the fake never answered the renewal.
    await hold.whenAbandoned(1);
    hold.release();
  });
});
