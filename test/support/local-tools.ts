// Programs of this machine that some tests run themselves: private servers they stop and kill (a Postgres cluster,
// nats-server), the real psql, kubectl. The container path of the suite (test-services.ts) brings the shared
// Postgres and NATS, not these: where one is missing, `testNeeding` skips the tests that need it, and says so.
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export type LocalTool = 'postgres-server' | 'nats-server' | 'psql' | 'kubectl';

const HOW_TO_GET: Record<LocalTool, string> = {
  'postgres-server': 'PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql, or set PG_BIN_DIR',
  'nats-server': 'nats-server: apt-get install nats-server, or set NATS_SERVER_BIN',
  psql: 'psql: apt-get install postgresql-client',
  kubectl: 'kubectl: https://kubernetes.io/docs/tasks/tools/',
};

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** `name` in a directory of PATH, or null. */
export function findOnPath(name: string, searchPath = process.env.PATH ?? ''): string | null {
  for (const dir of searchPath.split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

/** The newest installed PostgreSQL server's bin directory, or null; PG_BIN_DIR, when set, decides alone. */
export function findPostgresBinDir(): string | null {
  if (process.env.PG_BIN_DIR) return executable(path.join(process.env.PG_BIN_DIR, 'initdb')) ? process.env.PG_BIN_DIR : null;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(path.join(base, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length > 0) return path.join(base, versions[0]!, 'bin');
  const initdb = findOnPath('initdb');
  return initdb ? path.dirname(initdb) : null;
}

/** NATS_SERVER_BIN when set (if it is an executable), else /usr/sbin/nats-server (Debian's place), else nats-server on PATH; or null. */
export function findNatsServer(): string | null {
  if (process.env.NATS_SERVER_BIN) return executable(process.env.NATS_SERVER_BIN) ? process.env.NATS_SERVER_BIN : null;
  if (executable('/usr/sbin/nats-server')) return '/usr/sbin/nats-server';
  return findOnPath('nats-server');
}

function present(tool: LocalTool): boolean {
  switch (tool) {
    case 'postgres-server':
      return findPostgresBinDir() !== null;
    case 'nats-server':
      return findNatsServer() !== null;
    default:
      return findOnPath(tool) !== null;
  }
}

/** What is missing of `tools`, each with how to get it. */
export function missingTools(tools: LocalTool[]): string[] {
  return tools.filter((tool) => !present(tool)).map((tool) => HOW_TO_GET[tool]);
}

/**
 * `it` (with `.each`) for tests that run `tools`. Where one is missing they are skipped, and one line on stderr
 * names the test file and what to install; on CI (CI=true) they run anyway and fail naming it, since CI installs
 * every tool. A file whose tests are all skipped runs none of its hooks either (no beforeAll starts a server).
 */
export function testNeeding(...tools: LocalTool[]): jest.It {
  const missing = missingTools(tools);
  const ci = process.env.CI === 'true' || process.env.CI === '1';
  if (missing.length === 0 || ci) return it;
  const file = path.relative(path.resolve(__dirname, '..', '..'), expect.getState().testPath ?? 'a test file');
  process.stderr.write(`${file}: skipping its tests that need ${missing.join('; ')}\n`);
  return it.skip;
}
