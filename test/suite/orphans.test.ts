/**
 * Servers a test starts itself outlive a test process that is killed (no afterAll, no 'exit' handler runs). The
 * next private server or jest run removes them (test/support/orphans.ts): proved here with a child process that
 * starts a private Postgres and a private nats-server and is then SIGKILLed.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  hearFromParent,
  inTestRunner,
  isAlive,
  PRIVATE_NATS_ORPHANS,
  PRIVATE_POSTGRES_ORPHANS,
  PrivateNatsServer,
  PrivatePostgres,
  reapOrphans,
  startScenario,
  tellParent,
  testNeeding,
} from '@outbox-relay/test-support';

interface Started {
  postgresDir: string;
  postgresPid: number;
  natsDir: string;
  natsPid: number;
}

/**
 * The child: starts both servers in `tmpDir` (its own temporary directory, so that no other test file's reaper
 * takes them first), tells the parent where they are, and waits to be killed.
 */
export async function startServersAndWait(tmpDir: string): Promise<void> {
  process.env.TMPDIR = tmpDir;
  const postgres = await PrivatePostgres.start();
  const nats = await PrivateNatsServer.start();
  const natsPid = PRIVATE_NATS_ORPHANS.serverPid(nats.storeDir);
  tellParent('started', { postgresDir: postgres.root, postgresPid: postgres.pid!, natsDir: nats.storeDir, natsPid: natsPid! });
  await hearFromParent('never');
}

inTestRunner(() => {
  const withServers = testNeeding('postgres-server', 'nats-server');

  withServers('a killed test process leaves its servers running; the reaper kills them and removes their directories', async () => {
    const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'orphans-test-'));
    chmodSync(tmpDir, 0o755); // the private Postgres runs as the postgres user when the tests run as root
    const running = startScenario<string, void>(__filename, 'startServersAndWait', tmpDir, { timeoutMs: 120_000 });
    const started = await running.heard<Started>('started');
    running.child.kill('SIGKILL');
    await running.ended;

    // What every killed run used to leave behind: both servers still up, their owner gone.
    expect(isAlive(started.postgresPid)).toBe(true);
    expect(isAlive(started.natsPid)).toBe(true);

    expect(reapOrphans(PRIVATE_POSTGRES_ORPHANS, tmpDir)).toEqual([started.postgresDir]);
    expect(reapOrphans(PRIVATE_NATS_ORPHANS, tmpDir)).toEqual([started.natsDir]);
    const gone = async (pid: number) => {
      for (let i = 0; i < 500 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 20));
      return !isAlive(pid);
    };
    expect(await gone(started.postgresPid)).toBe(true);
    expect(await gone(started.natsPid)).toBe(true);
    expect(existsSync(started.postgresDir)).toBe(false);
    expect(existsSync(started.natsDir)).toBe(false);
    rmSync(tmpDir, { recursive: true, force: true });
  });

  withServers("a live owner's servers are left alone", async () => {
    const postgres = await PrivatePostgres.start();
    try {
      expect(reapOrphans(PRIVATE_POSTGRES_ORPHANS)).not.toContain(postgres.root);
      expect(postgres.pid).not.toBeNull();
    } finally {
      await postgres.destroy();
    }
  });
});
