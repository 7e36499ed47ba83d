import { withDefaults } from '../../src/api/defaults';
import { validateRelay } from '../../src/reconcile/validate';
import { reconcile } from '../../src/reconcile';
import { BAD_RELAYS } from './bad-specs';
import { makePod, makeRelay, observe, secondsLater } from './fixtures';

describe('validateRelay', () => {
  test('the defaults and the sample-like spec are valid', () => {
    const relay = makeRelay();
    expect(validateRelay(relay, relay.spec)).toEqual([]);
  });

  test.each(BAD_RELAYS)('$title → an issue on $field', ({ name, spec, field }) => {
    const relay = makeRelay({ ...(name ? { name } : {}), spec });
    const issues = validateRelay(relay, withDefaults(spec));
    expect(issues.map((i) => i.field)).toContain(field);
  });

  test('missing required references are reported, not turned into empty env values', () => {
    const relay = makeRelay();
    const spec = withDefaults({ nats: { url: 'nats://n:4222' } });
    expect(validateRelay(relay, spec).map((i) => i.field)).toEqual(['spec.database.secretRef.name', 'spec.database.secretRef.key']);
    expect(validateRelay(relay, withDefaults({ database: { secretRef: { name: 'a', key: 'b' } } })).map((i) => i.field)).toEqual(['spec.nats.url']);
  });

  test('cross-field rules are checked at their limits', () => {
    const at = (leaseDurationMs: number, renewIntervalMs: number, duplicateWindowSeconds: number) =>
      validateRelay(makeRelay(), withDefaults({ ...makeRelay().spec, leaseDurationMs, renewIntervalMs, nats: { url: 'nats://n:1', duplicateWindowSeconds } }));
    expect(at(2000, 1000, 20)).toEqual([]);
    expect(at(2000, 1001, 20).map((i) => i.field)).toEqual(['spec.renewIntervalMs']);
    expect(at(2000, 1000, 19).map((i) => i.field)).toEqual(['spec.nats.duplicateWindowSeconds']);
  });
});

describe('an invalid spec through reconcile', () => {
  const bad = makeRelay({ spec: { leaseDurationMs: 2000, renewIntervalMs: 1500 } });

  test('applies nothing and acts on nothing; Degraded and Ready say why; one Warning event', () => {
    const result = reconcile(observe(bad, [makePod('relay-a')]));
    expect(result.objects).toEqual([]);
    expect(result.actions).toEqual([]);
    const degraded = result.status.conditions?.find((c) => c.type === 'Degraded');
    expect(degraded).toMatchObject({ status: 'True', reason: 'InvalidSpec', message: expect.stringContaining('spec.renewIntervalMs') });
    expect(result.status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(result.events).toContainEqual({ type: 'Warning', reason: 'InvalidSpec', message: degraded?.message });

    // The same problem on the next run is not announced again.
    const again = reconcile(observe(makeRelay({ spec: bad.spec, status: result.status }), [makePod('relay-a')], { now: secondsLater(30) }));
    expect(again.events.map((e) => e.reason)).not.toContain('InvalidSpec');
  });
});
