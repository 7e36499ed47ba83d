import { desiredPodDisruptionBudget } from '../../src/reconcile/pdb';
import { makeRelay } from './fixtures';

describe('desiredPodDisruptionBudget', () => {
  test('at most one relay pod disrupted at a time, selecting exactly the Deployment\'s pods', () => {
    const relay = makeRelay({ name: 'billing' });
    const pdb = desiredPodDisruptionBudget(relay);
    expect(pdb.apiVersion).toBe('policy/v1');
    expect(pdb.metadata?.ownerReferences?.[0]?.uid).toBe(relay.metadata?.uid);
    expect(pdb.spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: { 'app.kubernetes.io/name': 'outbox-relay', 'app.kubernetes.io/instance': 'billing' } },
    });
    // minAvailable would block every node drain of a single-replica relay.
    expect(pdb.spec?.minAvailable).toBeUndefined();
  });
});
