/**
 * A lease across a Postgres failover with asynchronous replication. The promoted standby's copy of a lease row can
 * be older than the last renewal its holder made on the dead primary: by that copy the lease expires while the
 * holder, by its own deadline, may still publish. Here replication is cut (a proxy between standby and primary)
 * while holder A keeps renewing on the primary for longer than the margin, then the primary is killed and the
 * standby promoted. Successor B must not acquire before A's own deadline has passed: two leaders of one partition.
 */
import { performance } from 'node:perf_hooks';
import { migrateOutbox, type PrimaryPool } from '@outbox-relay/outbox';
import { LeaseElector } from '@outbox-relay/outbox/internal';
import { PrivatePostgresPair, quietLogger, testNeeding, waitFor } from '@outbox-relay/test-support';

const withPostgresServer = testNeeding('postgres-server');

const SCHEMA = 'failover_lease';
const LEASE_MS = 6000;

let servers: PrivatePostgresPair;

beforeAll(async () => {
  servers = await PrivatePostgresPair.start({ proxied: true });
}, 180_000);
afterAll(async () => {
  await servers?.destroy();
}, 120_000);

function elector(pool: PrimaryPool, instanceId: string): LeaseElector {
  return new LeaseElector({ pool, schema: SCHEMA, partition: 0, instanceId, leaseMs: LEASE_MS, renewMs: 200, retryMs: 100, logger: quietLogger });
}

withPostgresServer('a successor on the promoted standby waits out the old holder\'s deadline, whatever the standby\'s copy of the lease says', async () => {
  const { primary, standby, replication } = servers;
  const pool = servers.pool(2);
  await migrateOutbox({ pool, schema: SCHEMA, partitions: 1 });
  const a = elector(pool, 'relay-a');
  const aElected = new Promise<number>((resolve) => a.once('elected', (epoch) => resolve(epoch)));
  a.start();
  expect(await aElected).toBe(1);
  // The standby has A's lease, then stops receiving WAL.
  await standby.replayed(primary);
  const [copied] = await standby.query<{ expires: string }>(`SELECT expires_at::text AS expires FROM ${SCHEMA}.outbox_partitions`);
  replication!.cut();
  // A renews on the primary until its renewals there are well past the standby's copy (half a lease).
  await waitFor('A renews half a lease past what the standby has', async () => {
    const [row] = await primary.query<{ ahead: boolean }>(`SELECT expires_at > '${copied!.expires}'::timestamptz + interval '${LEASE_MS / 2000} seconds' AS ahead FROM ${SCHEMA}.outbox_partitions`);
    return row!.ahead || undefined;
  }, 60_000);

  await primary.kill();
  // From here no renewal of A can succeed; its deadline is the last one's send time + 90 % of the lease.
  const aDeadline = performance.now() - (a.renewedAgoMs ?? 0) + LEASE_MS * 0.9;
  await a.stop({ release: false });
  await standby.promote();

  const b = elector(servers.pool(2), 'relay-b');
  const bElected = new Promise<{ epoch: number; at: number }>((resolve) => b.once('elected', (epoch) => resolve({ epoch, at: performance.now() })));
  b.start();
  try {
    const { epoch, at } = await bElected;
    expect(epoch).toBe(2);
    // Without the grace, B takes the lease when the standby's copy expires: half a lease before A's deadline.
    expect(at).toBeGreaterThanOrEqual(aDeadline);
  } finally {
    await b.stop();
  }
}, 180_000);
