import type { PartitionBacklog, RelayStatus } from '@outbox-relay/outbox';
import pino from 'pino';
import { StatusBacklog, statusWithBacklog } from '../src/status-backlog';

const logger = pino({ level: 'silent' });
const backlog = (partition: number, pending: number, oldestPendingAgeSeconds: number): PartitionBacklog => ({
  partition,
  pending,
  oldestPendingAgeSeconds,
  holder: null,
  epoch: 1,
});

/** A read the test finishes by hand, so when it completes is decided by the test, not by a clock. */
function manualReads() {
  const pending: Array<{ resolve: (b: PartitionBacklog[]) => void; reject: (e: Error) => void }> = [];
  const read = () => new Promise<PartitionBacklog[]>((resolve, reject) => pending.push({ resolve, reject }));
  return { read, pending };
}

describe('StatusBacklog: the backlog /status reports, never waiting for the database', () => {
  test('answers at once: nothing before the first read completes, then the last reading and its age', async () => {
    let now = 0;
    const reads = manualReads();
    const snapshot = new StatusBacklog(reads.read, 1000, logger, () => now);
    expect(snapshot.current()).toBeNull();
    expect(reads.pending).toHaveLength(1);
    // Asked again while the read is in flight: no second read.
    expect(snapshot.current()).toBeNull();
    expect(reads.pending).toHaveLength(1);
    reads.pending[0]!.resolve([backlog(0, 3, 2)]);
    await snapshot.settled();
    now = 400;
    expect(snapshot.current()).toEqual({ readAgoMs: 400, partitions: [backlog(0, 3, 2)] });
    expect(reads.pending).toHaveLength(1);
  });

  test('a reading older than maxAgeMs is still answered while a new read runs; a failed read keeps the old one, aging', async () => {
    let now = 0;
    const reads = manualReads();
    const snapshot = new StatusBacklog(reads.read, 1000, logger, () => now);
    snapshot.current();
    reads.pending[0]!.resolve([backlog(0, 1, 0)]);
    await snapshot.settled();
    now = 1500;
    expect(snapshot.current()?.readAgoMs).toBe(1500);
    expect(reads.pending).toHaveLength(2);
    reads.pending[1]!.reject(new Error('database unreachable'));
    await snapshot.settled();
    now = 5000;
    expect(snapshot.current()).toEqual({ readAgoMs: 5000, partitions: [backlog(0, 1, 0)] });
  });
});

describe('statusWithBacklog', () => {
  const status: RelayStatus = {
    instanceId: 'relay-a',
    leading: true,
    partitions: [
      { partition: 0, leading: true, epoch: 3, deadLettered: 0, leadingForMs: 9000, renewedAgoMs: 100, publishedAgoMs: 8000 },
      { partition: 1, leading: false, epoch: null, deadLettered: 0, leadingForMs: null, renewedAgoMs: null, publishedAgoMs: null },
    ],
    balance: null,
    natsConnected: true,
  };

  test("each partition gets its pending count and its oldest event's age now (the reading's age added)", () => {
    const merged = statusWithBacklog(status, { readAgoMs: 500, partitions: [backlog(0, 12, 7.25), backlog(1, 0, 0)] });
    expect(merged.backlogReadAgoMs).toBe(500);
    expect(merged.partitions[0]).toMatchObject({ partition: 0, pending: 12, oldestPendingAgeMs: 7750, publishedAgoMs: 8000 });
    expect(merged.partitions[1]).toMatchObject({ partition: 1, pending: 0, oldestPendingAgeMs: 0 });
  });

  test('without a reading the backlog is unknown (null), never zero', () => {
    const merged = statusWithBacklog(status, null);
    expect(merged.backlogReadAgoMs).toBeNull();
    expect(merged.partitions.map((p) => [p.pending, p.oldestPendingAgeMs])).toEqual([
      [null, null],
      [null, null],
    ]);
  });
});
