import { desiredServiceAccount } from '../../src/reconcile/service-account';
import { makeRelay } from './fixtures';

describe('desiredServiceAccount', () => {
  test('one per relay, owned by it, with no API token mounted', () => {
    const relay = makeRelay({ name: 'billing', namespace: 'pay' });
    const sa = desiredServiceAccount(relay);
    expect(sa).toEqual({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: {
        name: 'billing',
        namespace: 'pay',
        labels: expect.objectContaining({ 'app.kubernetes.io/instance': 'billing' }),
        ownerReferences: [expect.objectContaining({ kind: 'OutboxRelay', uid: relay.metadata?.uid, controller: true })],
      },
      automountServiceAccountToken: false,
    });
  });
});
