import { openAPIV3Schema } from '../../src/api/crd';
import { reconcile } from '../../src/reconcile';
import type { ObservedState } from '../../src/reconcile/types';
import { leaderPod, makePod, makeRelay, observe, report, secondsAgo, stalledReport } from '../reconcile/fixtures';
import { compileCrdValidator } from '../support/crd-validator';

const validate = compileCrdValidator(openAPIV3Schema);

const SCENARIOS: Array<[string, ObservedState]> = [
  ['healthy', observe(makeRelay(), [leaderPod('relay-a'), makePod('relay-b')])],
  ['nothing probed, no Deployment', observe(makeRelay(), [makePod('relay-a', { report: undefined })], { deployment: null })],
  ['failover now', observe(makeRelay(), [leaderPod('relay-a', 3, { report: stalledReport('relay-a', 3) }), makePod('relay-b')])],
  [
    'stalled leader in the quiet period',
    observe(makeRelay({ status: { lastFailoverTime: secondsAgo(1) } }), [leaderPod('relay-a', 3, { report: stalledReport('relay-a', 3) }), makePod('relay-b')]),
  ],
  ['every pod unreachable', observe(makeRelay(), [leaderPod('relay-a', 3, { report: null }), makePod('relay-b', { report: null })])],
  ['leader not ready', observe(makeRelay(), [leaderPod('relay-a', 3, { ready: false, notReadySince: secondsAgo(60) }), makePod('relay-b')])],
  [
    'unresponsive leader, pending',
    observe(makeRelay({ status: { currentLeader: 'relay-a', leaderEpoch: 3, partitionLeaders: [{ partition: 0, pod: 'relay-a', epoch: 3 }] } }), [
      leaderPod('relay-a', 3, { report: null }),
    ]),
  ],
  ['partitions without a leader', observe(makeRelay({ spec: { partitionCount: 4 } }), [makePod('relay-a', { report: report('relay-a', { 1: 2 }, 4) })])],
  ['invalid spec', observe(makeRelay({ spec: { renewIntervalMs: 1500 } }), [])],
  ['paused', observe(makeRelay({ spec: { paused: true } }), [leaderPod('relay-a')])],
  ['scaled to zero', observe(makeRelay({ spec: { replicas: 0 } }), [])],
];

describe('every status reconcile writes is accepted by the CRD\'s status schema', () => {
  test.each(SCENARIOS)('%s', (_title, state) => {
    const { status } = reconcile(state);
    const { status: _previous, ...relay } = state.relay;
    const result = validate(JSON.parse(JSON.stringify({ ...relay, status })));
    // Only the status is under test here (the invalid-spec scenario's spec is rejected on purpose).
    expect(result.errors.filter((e) => e.startsWith('status'))).toEqual([]);
    expect(status.conditions?.length).toBe(7);
  });
});

describe('condition types follow metav1.Condition, not a closed list', () => {
  // The CRD reaches a cluster through Helm, which may lag the operator: a condition type the installed CRD does not
  // list would make the API server refuse every status write of a newer operator.
  const withCondition = (type: string) => {
    const { status: _previous, ...relay } = makeRelay();
    const condition = { type, status: 'True', reason: 'Example', message: '', lastTransitionTime: '2026-12-07T00:00:00Z' };
    return validate(JSON.parse(JSON.stringify({ ...relay, status: { conditions: [condition] } }))).errors.filter((e) => e.startsWith('status'));
  };

  test('a type this operator does not know (a newer one\'s, or one with a domain prefix) is accepted', () => {
    expect(withCondition('Hibernating')).toEqual([]);
    expect(withCondition('outbox-relay.dev/StreamVerified')).toEqual([]);
  });

  test('a type that is no condition type at all is refused', () => {
    expect(withCondition('not a type')).not.toEqual([]);
    expect(withCondition('x'.repeat(317))).not.toEqual([]);
  });
});
