/**
 * A relay that exits with the configuration status (2) because its stream does not fit: the operator reads the
 * container's termination from the pod and shows the relay's own line in Ready and Degraded.
 */
import type { V1Pod } from '../../src/kube/client-node';
import { observePod } from '../../src/observe';
import { reconcile } from '../../src/reconcile';
import { makePod, makeRelay, observe } from './fixtures';

const LINE = 'outbox-relay: stream "ORDERS" does not fit the relay (duplicate_window): expected a duplicate window of at least 20000 ms (10 x OUTBOX_LEASE_MS), found 5000 ms';

function crashedPod(exitCode: number, running = false): V1Pod {
  return {
    metadata: { name: 'orders-abc', uid: 'uid-orders-abc', creationTimestamp: '2025-03-01T10:00:00Z' as unknown as Date },
    status: {
      podIP: '10.0.0.1',
      containerStatuses: [
        {
          name: 'relay',
          image: 'x',
          imageID: 'x',
          ready: running,
          restartCount: 3,
          state: running ? { running: {} } : { waiting: { reason: 'CrashLoopBackOff' } },
          lastState: {
            terminated: {
              exitCode,
              // FallbackToLogsOnError: the tail of the log, JSON lines first, the relay's stderr line last.
              message: `{"level":50,"msg":"stream does not fit"}\n{"level":30,"msg":"shut down","exitCode":2}\n${LINE}\n`,
            },
          },
        },
      ],
    },
  };
}

test('a container down after exit status 2 carries the relay\'s line; one running again or exiting otherwise does not', () => {
  expect(observePod(crashedPod(2)).configurationExit).toEqual({ exitCode: 2, message: LINE });
  expect(observePod(crashedPod(2, true)).configurationExit).toBeUndefined();
  expect(observePod(crashedPod(1)).configurationExit).toBeUndefined();
});

test('Ready and Degraded name the pod and the relay\'s reason', () => {
  const pod = makePod('orders-abc', { ready: false, report: undefined, configurationExit: { exitCode: 2, message: LINE } });
  const conditions = reconcile(observe(makeRelay(), [pod, makePod('orders-def', { ready: false, report: undefined, configurationExit: { exitCode: 2, message: LINE } })])).status.conditions!;
  const expected = `orders-abc exited with status 2 (and 1 more pods): ${LINE}`;
  expect(conditions.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'RelayConfigurationError', message: expected });
  expect(conditions.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'RelayConfigurationError', message: expected });
});
