import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { findPostgresBinDir } from './local-tools';
import { freePort } from './ports';
import { isAlive, killTree, markOwner, readPid, reapOrphans, type OrphanKind } from './orphans';

/**
 * A PostgreSQL server of its own (port, data directory, processes) for tests that stop, restart or kill the
 * database: doing that to the machine's shared server on 5432 would break every other test running beside them.
 *
 * Postgres refuses to run as root, so when the tests run as root every server command runs as the `postgres`
 * user, which owns the whole directory. Authentication is `trust` on 127.0.0.1 only.
 */
export class PrivatePostgres {
  /** Parent of the data directory and the server log, owned by the server's user. */
  readonly root: string;
  readonly dataDir: string;
  readonly logFile: string;
  private readonly bin: string;
  private readonly owner: { uid: number; gid: number } | null;
  private initialized = false;
  private destroyed = false;

  private constructor(
    readonly port: number,
    private readonly settings: Record<string, string>,
    /** For a standby: the port it streams WAL from (the primary's, or a proxy's in front of it). */
    private readonly upstreamPort: number | null = null,
  ) {
    this.bin = postgresBinDir();
    this.owner = serverOwner();
    this.root = mkdtempSync(path.join(os.tmpdir(), 'pg-private-'));
    this.dataDir = path.join(this.root, 'data');
    this.logFile = path.join(this.root, 'postgres.log');
    markOwner(this.root);
    if (this.owner) chownSync(this.root, this.owner.uid, this.owner.gid);
    live.add(this);
  }

  /**
   * Creates and starts a server on a free port. `settings` are extra postgresql.conf lines (name → value as
   * written in the file, e.g. `{ track_commit_timestamp: 'on' }`).
   */
  static async start(settings: Record<string, string> = {}): Promise<PrivatePostgres> {
    reapOrphans(PRIVATE_POSTGRES_ORPHANS);
    const server = new PrivatePostgres(await freePort(), settings);
    try {
      await server.start();
    } catch (error) {
      await server.destroy();
      throw error;
    }
    return server;
  }

  /**
   * A streaming standby of `primary` (pg_basebackup of its data directory, asynchronous replication), started and
   * taking read-only connections. `via`: the port it streams from instead of the primary's own, e.g. a TcpProxy in
   * front of it, so that a test can cut replication and make the standby fall behind.
   */
  static async startStandby(primary: PrivatePostgres, options: { via?: number; settings?: Record<string, string> } = {}): Promise<PrivatePostgres> {
    reapOrphans(PRIVATE_POSTGRES_ORPHANS);
    const server = new PrivatePostgres(await freePort(), options.settings ?? {}, options.via ?? primary.port);
    try {
      await server.baseBackup(primary.port);
      await server.start();
    } catch (error) {
      await server.destroy();
      throw error;
    }
    return server;
  }

  /** Ends recovery (`pg_ctl promote`): a standby becomes a primary on the next timeline. Resolves once it is one. */
  async promote(): Promise<void> {
    await this.pgCtl(['promote', '-w', '-t', '120']);
  }

  /** A URL for the `postgres` database as the `postgres` superuser. */
  get url(): string {
    return this.urlFor('postgres');
  }

  urlFor(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Rows of one statement, on a connection of its own to the `postgres` database (closed afterwards). */
  async query<T = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: this.url });
    // A server killed mid-query also reports it as 'error'; the query's own rejection is what the caller sees.
    client.on('error', () => undefined);
    await client.connect();
    try {
      return (await client.query(text, values)).rows as T[];
    } finally {
      await client.end();
    }
  }

  /** Until this standby has replayed the WAL `primary` has written so far. */
  async replayed(primary: PrivatePostgres, timeoutMs = 60_000): Promise<void> {
    const [{ lsn }] = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')) as [{ lsn: string }];
    const deadline = Date.now() + timeoutMs;
    while (!(await this.query<{ done: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [lsn]))[0]!.done) {
      if (Date.now() > deadline) throw new Error(`standby on port ${this.port} did not replay up to ${lsn} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The postmaster's pid while it runs (from postmaster.pid), else null. */
  get pid(): number | null {
    return runningPostmaster(this.dataDir);
  }

  /** Starts the server (initializing the data directory the first time) and resolves once it takes connections. */
  async start(): Promise<void> {
    if (this.destroyed) throw new Error('private Postgres already destroyed');
    if (!this.initialized) await this.initdb();
    // -w waits for the postmaster to report "ready" in its pid file; the generous -t covers crash recovery on a
    // loaded machine. A connection is still tried afterwards: "ready" is written a moment before the
    // socket accepts on some versions.
    await this.pgCtl(['start', '-w', '-t', '120', '-l', this.logFile]);
    await this.waitForConnection(30_000);
  }

  /**
   * `fast`: clients are disconnected and the server shuts down cleanly (a checkpoint). `immediate`: every
   * process quits at once and the next start runs crash recovery.
   */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (this.pid === null) return;
    await this.pgCtl(['stop', '-m', mode, '-w', '-t', '120']);
  }

  /**
   * SIGKILL of the postmaster and of every server process it started, as when the machine or container dies: no
   * shutdown at all, crash recovery at the next start. (The backends are killed too because a new postmaster
   * refuses to start while an orphaned backend still holds the old shared memory.)
   */
  async kill(): Promise<void> {
    const pid = this.pid;
    if (pid === null) return;
    const killed = killTree(pid);
    const deadline = Date.now() + 30_000;
    while (killed.some(isAlive)) {
      if (Date.now() > deadline) throw new Error(`postgres processes ${killed.filter(isAlive).join(', ')} survived SIGKILL`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // A new postmaster refuses to start while the pid in the lock file still exists, and a killed postmaster stays
    // a zombie until init reaps it. Give init a moment, then drop the lock file of the dead server ourselves.
    const reaped = Date.now() + 2000;
    while (existsSync(`/proc/${pid}`) && Date.now() < reaped) await new Promise((r) => setTimeout(r, 20));
    rmSync(path.join(this.dataDir, 'postmaster.pid'), { force: true });
  }

  async restart(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.stop(mode);
    await this.start();
  }

  /** Stops the server at once (if it runs) and removes its directory. Safe to call more than once. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    try {
      await this.stop('immediate').catch(() => this.kill());
    } finally {
      this.destroyed = true;
      live.delete(this);
      rmSync(this.root, { recursive: true, force: true });
    }
  }

  /** The server's log so far (startup failures, crash recovery), for error messages. */
  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }

  private async initdb(): Promise<void> {
    await this.run(path.join(this.bin, 'initdb'), [
      '-D', this.dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync',
    ]);
    const conf: Record<string, string> = {
      listen_addresses: `'127.0.0.1'`,
      port: String(this.port),
      // No socket file: nothing in the tests uses it, and a socket in a shared directory could collide.
      unix_socket_directories: `''`,
      max_connections: '100',
      shared_buffers: '32MB',
      fsync: 'on',
      logging_collector: 'off',
      ...this.settings,
    };
    const lines = Object.entries(conf).map(([name, value]) => `${name} = ${value}`);
    writeFileSync(path.join(this.dataDir, 'postgresql.auto.conf'), `${lines.join('\n')}\n`);
    // `replication`: standbys made by startStandby stream from this server.
    writeFileSync(path.join(this.dataDir, 'pg_hba.conf'), 'host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n');
    if (this.owner) {
      for (const file of ['postgresql.auto.conf', 'pg_hba.conf']) chownSync(path.join(this.dataDir, file), this.owner.uid, this.owner.gid);
    }
    this.initialized = true;
  }

  /**
   * The data directory as a copy of the primary's, with standby.signal (-R). The copied postgresql.auto.conf holds
   * the primary's port and a primary_conninfo to it; the lines appended here come later in the file and win.
   */
  private async baseBackup(primaryPort: number): Promise<void> {
    await this.run(path.join(this.bin, 'pg_basebackup'), [
      '-D', this.dataDir, '-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-R', '-X', 'stream', '--no-sync', '-c', 'fast',
    ]);
    const conf: Record<string, string> = {
      port: String(this.port),
      primary_conninfo: `'host=127.0.0.1 port=${this.upstreamPort} user=postgres application_name=standby_${this.port}'`,
      ...this.settings,
    };
    const lines = Object.entries(conf).map(([name, value]) => `${name} = ${value}`);
    writeFileSync(path.join(this.dataDir, 'postgresql.auto.conf'), `${readFileSync(path.join(this.dataDir, 'postgresql.auto.conf'), 'utf8')}${lines.join('\n')}\n`);
    if (this.owner) chownSync(path.join(this.dataDir, 'postgresql.auto.conf'), this.owner.uid, this.owner.gid);
    this.initialized = true;
  }

  private pgCtl(args: string[]): Promise<void> {
    return this.run(path.join(this.bin, 'pg_ctl'), ['-D', this.dataDir, ...args]);
  }

  private run(file: string, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile(
        file,
        args,
        // The working directory must be readable by the server's user, and HOME must not point at root's.
        { cwd: this.root, env: { ...process.env, HOME: this.root, LC_ALL: 'C' }, ...(this.owner ?? {}) },
        (error, stdout, stderr) => {
          if (!error) return resolve();
          const tail = this.log().split('\n').slice(-20).join('\n');
          reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}\nserver log:\n${tail}`));
        },
      );
    });
  }

  private async waitForConnection(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const client = new Client({ connectionString: this.url, connectionTimeoutMillis: 2000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`private Postgres on port ${this.port} takes no connections: ${(error as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        await client.end().catch(() => undefined);
      }
    }
  }
}

/** Servers not yet destroyed: killed and removed if the test process exits without destroying them. */
const live = new Set<PrivatePostgres>();
process.once('exit', () => {
  for (const server of live) {
    const pid = server.pid;
    if (pid !== null) killTree(pid);
    rmSync(server.root, { recursive: true, force: true });
  }
});

/** The newest installed server's bin directory (`PG_BIN_DIR` overrides it). */
function postgresBinDir(): string {
  const dir = findPostgresBinDir();
  if (dir === null) throw new Error('no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql or on PATH (apt-get install postgresql, or set PG_BIN_DIR)');
  return dir;
}

/** As root: the `postgres` user's ids (Postgres will not run as root). Otherwise: run as ourselves. */
function serverOwner(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error('running as root, but there is no `postgres` user to run a private Postgres as');
  }
}

/** The postmaster of `dataDir` while it runs (postmaster.pid names a live process), else null. */
function runningPostmaster(dataDir: string): number | null {
  const pid = readPid(path.join(dataDir, 'postmaster.pid'));
  return pid !== null && isAlive(pid) ? pid : null;
}

/** Private servers left by test processes that were killed (see orphans.ts). */
export const PRIVATE_POSTGRES_ORPHANS: OrphanKind = {
  prefix: 'pg-private-',
  serverPid: (dir) => runningPostmaster(path.join(dir, 'data')),
};
