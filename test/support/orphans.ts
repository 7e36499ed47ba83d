import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Servers that tests start themselves (a private Postgres, a private nats-server) outlive a test process that is
 * killed (a run interrupted, a CI job timing out, a worker jest force-exits): no afterAll and no 'exit' handler runs
 * then, and a postmaster is not a child that dies with its parent. Each such server's directory therefore names the
 * process that owns it (OWNER_FILE), and every new private server, and every jest run, first removes the servers
 * whose owner is gone, so a killed run's leftovers live at most until the next run starts.
 */
const OWNER_FILE = 'owner.pid';

/** Writes the current process as the owner of the server directory `dir`. */
export function markOwner(dir: string): void {
  writeFileSync(path.join(dir, OWNER_FILE), `${process.pid}\n`);
}

export interface OrphanKind {
  /** Prefix of the server directories under the temp directory, e.g. `pg-private-`. */
  prefix: string;
  /** The server's main process, read from its directory, or null when it does not run. */
  serverPid(dir: string): number | null;
}

/**
 * Kills the servers of `kind` whose owner process no longer exists (SIGKILL, with their child processes) and removes
 * their directories. Directories without an owner file are left alone: they may belong to a process that does not
 * mark its servers. Returns the directories removed.
 */
export function reapOrphans(kind: OrphanKind, tmpDir = os.tmpdir()): string[] {
  const reaped: string[] = [];
  for (const entry of readdirSync(tmpDir)) {
    if (!entry.startsWith(kind.prefix)) continue;
    const dir = path.join(tmpDir, entry);
    const owner = readPid(path.join(dir, OWNER_FILE));
    if (owner === null || isAlive(owner)) continue;
    const pid = kind.serverPid(dir);
    if (pid !== null) killTree(pid);
    rmSync(dir, { recursive: true, force: true });
    reaped.push(dir);
  }
  return reaped;
}

/** The first line of `file` as a pid, or null. */
export function readPid(file: string): number | null {
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** SIGKILL of `pid` and of its direct children (a postmaster's backends hold its shared memory). */
export function killTree(pid: number): number[] {
  const children = childrenOf(pid);
  signal(pid, 'SIGKILL');
  for (const child of children) signal(child, 'SIGKILL');
  return [pid, ...children];
}

/** Live (not zombie) process? */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Direct children of `pid`. */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) children.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return children;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}
