/**
 * DATABASE_URL may list several servers (libpq's multi-host form); every connection a process opens must reach the
 * primary among them, whatever order they are listed in and whatever happened to them: a standby, a server that is
 * down, a standby promoted after the primary died, and the old primary coming back on its old timeline after a
 * failover (split brain) are each tried here against real private servers, a primary with a streaming standby.
 */
import type { Pool } from 'pg';
import { NoPrimaryError, NotPrimaryError, PostgresPrimary } from '@outbox-relay/outbox';
import { freePort, PrivatePostgres, TEST_DATABASE_URL, testNeeding, waitFor } from '@outbox-relay/test-support';

const withPostgresServer = testNeeding('postgres-server');

function hostList(...ports: number[]): string {
  return `postgres://postgres@${ports.map((p) => `127.0.0.1:${p}`).join(',')}/postgres`;
}

/** The port of the server a pool's connection reached, and whether it is a standby. */
async function reached(pool: Pool): Promise<{ port: number; standby: boolean }> {
  const { rows } = await pool.query<{ port: number; standby: boolean }>('SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby');
  return rows[0]!;
}

describe('a host list with a primary and a streaming standby', () => {
  let primary: PrivatePostgres;
  let standby: PrivatePostgres;
  const pools: Pool[] = [];
  const track = (pool: Pool) => {
    pool.on('error', () => undefined);
    pools.push(pool);
    return pool;
  };

  beforeAll(async () => {
    primary = await PrivatePostgres.start();
    standby = await PrivatePostgres.startStandby(primary);
  }, 180_000);
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
    await standby?.destroy();
    await primary?.destroy();
  });

  withPostgresServer('the standby listed first is passed over for the primary; without the check it would have been used', async () => {
    const checked = track(PostgresPrimary.fromUrl(hostList(standby.port, primary.port)).pool({ max: 2 }));
    expect(await reached(checked)).toEqual({ port: primary.port, standby: false });
    // The control: the same list with the check turned off reaches the standby first, so the check is what chose.
    const unchecked = track(PostgresPrimary.fromUrl(`${hostList(standby.port, primary.port)}?target_session_attrs=any`).pool({ max: 1 }));
    expect(await reached(unchecked)).toEqual({ port: standby.port, standby: true });
  });

  withPostgresServer('a server that is down is passed over, for pooled and for dedicated connections', async () => {
    const down = await freePort();
    const target = PostgresPrimary.fromUrl(hostList(down, primary.port));
    expect((await reached(track(target.pool({ max: 1 })))).port).toBe(primary.port);
    const client = await PostgresPrimary.fromUrl(hostList(down, standby.port, primary.port)).connectClient();
    try {
      expect((await client.query<{ port: number }>('SELECT inet_server_port() AS port')).rows[0]!.port).toBe(primary.port);
    } finally {
      await client.end();
    }
  });

  withPostgresServer('when no server qualifies, the error names each one and why', async () => {
    const down = await freePort();
    const pool = track(PostgresPrimary.fromUrl(hostList(standby.port, down)).pool({ max: 1 }));
    const error = await pool.query('SELECT 1').then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NoPrimaryError);
    const attempts = (error as NoPrimaryError).attempts;
    expect(attempts.map((a) => a.host)).toEqual([`127.0.0.1:${standby.port}`, `127.0.0.1:${down}`]);
    expect(attempts[0]!.error).toMatch(/in recovery/);
    expect(attempts[1]!.error).toMatch(/ECONNREFUSED/);
    // One server only: its own error, as a single-host URL always gave.
    const single = track(PostgresPrimary.fromUrl(hostList(standby.port)).pool({ max: 1 }));
    await expect(single.query('SELECT 1')).rejects.toBeInstanceOf(NotPrimaryError);
  });

  withPostgresServer('a read-only server is refused under read-write and accepted under primary', async () => {
    await primary.query('ALTER SYSTEM SET default_transaction_read_only = on');
    await primary.query('SELECT pg_reload_conf()');
    try {
      const readWrite = track(PostgresPrimary.fromUrl(hostList(primary.port)).pool({ max: 1 }));
      await expect(readWrite.query('SELECT 1')).rejects.toThrow(/read-only/);
      const primaryOnly = track(PostgresPrimary.fromUrl(`${hostList(primary.port)}?target_session_attrs=primary`).pool({ max: 1 }));
      expect((await reached(primaryOnly)).port).toBe(primary.port);
    } finally {
      // A read-only default still lets ALTER SYSTEM run: it is not a transaction.
      await primary.query('ALTER SYSTEM RESET default_transaction_read_only');
      await primary.query('SELECT pg_reload_conf()');
    }
  });

  // Last: it promotes the standby and leaves two primaries behind.
  withPostgresServer('after the primary dies and the standby is promoted, the same pool reaches it; the old primary coming back is refused', async () => {
    const target = PostgresPrimary.fromUrl(hostList(primary.port, standby.port));
    const pool = track(target.pool({ max: 2, idleTimeoutMillis: 0 }));
    expect((await reached(pool)).port).toBe(primary.port);
    await primary.query('CREATE TABLE failover_mark (n int); INSERT INTO failover_mark VALUES (1)');
    await standby.replayed(primary);

    await primary.kill();
    // Until the promotion, no server qualifies: the dead primary and a standby. (A new pool of the same target: the
    // first pool may still hold a client whose death it has not been told of yet.)
    await expect(track(target.pool({ max: 1 })).query('SELECT 1')).rejects.toBeInstanceOf(NoPrimaryError);
    await standby.promote();
    const afterPromotion = await waitFor('the pool reaches the promoted standby', async () => {
      const where = await reached(pool).catch(() => undefined);
      return where?.standby === false ? where : undefined;
    }, 60_000);
    expect(afterPromotion.port).toBe(standby.port);
    expect((await pool.query<{ n: number }>('SELECT n FROM failover_mark')).rows).toEqual([{ n: 1 }]);

    // The old primary restarts as a primary of its own, on the timeline the promotion left behind: split brain.
    await primary.start();
    // While the new primary cannot be reached, the old one is the only server that answers as a primary; the
    // target has seen the newer timeline and refuses it rather than write into the abandoned history.
    await standby.stop('fast');
    const error = await target.connectClient().then(
      (c) => c.end().then(() => null),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NoPrimaryError);
    const attempts = (error as NoPrimaryError).attempts;
    expect(attempts.find((a) => a.host === `127.0.0.1:${primary.port}`)?.error).toMatch(/timeline 1, but a primary on timeline 2 was seen: an old primary/);
    await standby.start();
    expect((await reached(track(target.pool({ max: 1 })))).port).toBe(standby.port);
    // The control: a process that never saw the new timeline has nothing to tell them apart by, and takes the
    // first one listed. (Fencing the old primary is the failover manager's job; README, "Postgres failover".)
    const naive = track(PostgresPrimary.fromUrl(hostList(primary.port, standby.port)).pool({ max: 1 }));
    expect((await reached(naive)).port).toBe(primary.port);
  }, 240_000);
});

describe('a connection the server ends while it is checked out of the pool', () => {
  /**
   * The server's FATAL on a checked-out client that is between queries (a transaction's caller doing other work, a
   * query just answered and not yet released) is emitted as the client's 'error'. pg-pool listens only while the
   * client is idle, and an 'error' nobody listens to ends the process: the Postgres failover drill ended so once.
   */
  test('ends no process: the client reports it on its next use, and the pool replaces it', async () => {
    const pool = PostgresPrimary.fromUrl(TEST_DATABASE_URL).pool({ max: 1 });
    const admin = PostgresPrimary.fromUrl(TEST_DATABASE_URL).pool({ max: 1 });
    try {
      const client = await pool.connect();
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await ended;
      await expect(client.query('SELECT 1')).rejects.toThrow();
      client.release(true);
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
    } finally {
      await pool.end();
      await admin.end();
    }
  });
});
