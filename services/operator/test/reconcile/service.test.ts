import { desiredService } from '../../src/reconcile/service';
import { makeRelay } from './fixtures';

describe('desiredService', () => {
  test('ClusterIP on the relay http port, selecting this relay\'s pods only, owned by the relay', () => {
    const relay = makeRelay({ name: 'billing', namespace: 'pay' });
    const svc = desiredService(relay);
    expect(svc.metadata).toMatchObject({ name: 'billing', namespace: 'pay' });
    expect(svc.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'OutboxRelay', name: 'billing', controller: true });
    expect(svc.spec).toEqual({
      type: 'ClusterIP',
      selector: { 'app.kubernetes.io/name': 'outbox-relay', 'app.kubernetes.io/instance': 'billing' },
      ports: [{ name: 'http', port: 8090, targetPort: 'http', protocol: 'TCP' }],
    });
  });

  test('two relays in one namespace select disjoint pods', () => {
    const a = desiredService(makeRelay({ name: 'a' })).spec?.selector;
    const b = desiredService(makeRelay({ name: 'b' })).spec?.selector;
    expect(a).not.toEqual(b);
  });
});
