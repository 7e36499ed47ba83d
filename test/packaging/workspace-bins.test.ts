import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromRoot, repoRoot } from './support/paths';

/**
 * The commands the workspaces install (`outboxctl`, `outbox-migrate`, and one per service process) must be the ones
 * `npx <command>` runs after `make build` on a fresh clone. npm links a workspace's bins when it installs, before anything is built, and
 * silently skips a bin whose file does not exist; npx, finding no local command, then looks for a package of that
 * name in the public registry: a stranger's code. So every bin must point at a file a fresh clone already has.
 */
/** A manifest's or a lock entry's dependency fields: what the fresh clone below leaves out. */
const DEPENDENCY_FIELDS = ['dependencies', 'devDependencies', 'peerDependencies', 'peerDependenciesMeta'] as const;
interface Manifest {
  name: string;
  version: string;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, unknown>;
}
interface LockEntry {
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  [field: string]: unknown;
}

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;
const workspaces = readJson<{ workspaces: string[] }>(fromRoot('package.json')).workspaces;
const lock = readJson<{ packages: Record<string, LockEntry> }>(fromRoot('package-lock.json'));
const manifestOf = (workspace: string) => readJson<Manifest>(fromRoot(workspace, 'package.json'));
/** Every command a workspace installs. */
const BINS = workspaces.flatMap((workspace) =>
  Object.entries(manifestOf(workspace).bin ?? {}).map(([name, target]) => ({ workspace, name, target: path.normalize(target) })),
);
const WORKSPACES_WITH_BINS = [...new Set(BINS.map((b) => b.workspace))];

/**
 * npm and npx with a registry that cannot answer and no user configuration: a command that is not installed
 * locally fails at once instead of being fetched, and nothing outside `scratch` is read or written.
 */
function npmEnv(scratch: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    npm_config_registry: 'http://127.0.0.1:9/',
    npm_config_offline: 'true',
    npm_config_userconfig: path.join(scratch, 'npmrc'),
    npm_config_cache: path.join(scratch, 'npm-cache'),
    npm_config_update_notifier: 'false',
  };
}

/** The files of `dir` a clone of the repository has: committed ones, and new ones not ignored (dist/ is ignored). */
function cloneFiles(dir: string): string[] {
  const listed = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', dir], { cwd: repoRoot, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  return listed.stdout.split('\0').filter((file) => file !== '' && fs.existsSync(fromRoot(file)));
}

const npxEnvironments: string[] = [];
afterAll(() => {
  for (const dir of npxEnvironments) fs.rmSync(dir, { recursive: true, force: true });
});
function scratchDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  npxEnvironments.push(dir);
  return dir;
}

describe('the workspaces’ commands', () => {
  test('are the CLIs and the service processes', () => {
    expect(BINS.map((b) => `${b.workspace}: ${b.name}`).sort()).toEqual([
      'services/operator: outbox-operator',
      'services/outbox: outbox-migrate',
      'services/outboxctl: outboxctl',
      'services/payments: outbox-payments',
      'services/relay: outbox-relay',
    ]);
  });

  test.each(BINS)('$name points at a file a fresh clone has (not build output), a node script npm can run, and the lock agrees', ({ workspace, name, target }) => {
    const file = path.join(workspace, target);
    const ignored = spawnSync('git', ['check-ignore', '--quiet', file], { cwd: repoRoot }).status === 0;
    expect({ file, ignoredByGit: ignored, inAFreshClone: cloneFiles(file).length === 1 }).toEqual({ file, ignoredByGit: false, inAFreshClone: true });
    expect(fs.statSync(fromRoot(file)).mode & 0o111).not.toBe(0);
    expect(fs.readFileSync(fromRoot(file), 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
    // npm ci links what package-lock.json records for a workspace, not what its package.json says.
    expect(lock.packages[workspace]?.bin?.[name]).toBe(manifestOf(workspace).bin?.[name]);
  });

  test('on a fresh clone, the repository’s install step links each into node_modules/.bin, and npx runs it before the build', () => {
    const clone = scratchDir('fresh-clone-');
    // The workspaces with commands, as a clone has them, without their dependencies (of any kind: peers would be
    // installed too): those come from the registry
    // and have nothing to do with linking a workspace's own bins, so the install stays offline and takes a second.
    // With the runtime package, whose launcher.cjs (committed, never built) every bin runs.
    const cloned = [...WORKSPACES_WITH_BINS, 'services/runtime'];
    const root = { name: 'fresh-clone', private: true, workspaces: cloned };
    const lockfile = { name: root.name, lockfileVersion: 3, requires: true, packages: { '': { name: root.name, workspaces: root.workspaces } } as Record<string, unknown> };
    for (const workspace of cloned) {
      for (const file of cloneFiles(workspace)) {
        fs.mkdirSync(path.dirname(path.join(clone, file)), { recursive: true });
        fs.copyFileSync(fromRoot(file), path.join(clone, file)); // keeps the file's mode, as a checkout does
      }
      const manifest = manifestOf(workspace);
      const entry = { ...lock.packages[workspace]! };
      for (const field of DEPENDENCY_FIELDS) {
        delete manifest[field];
        delete entry[field];
      }
      fs.writeFileSync(path.join(clone, workspace, 'package.json'), JSON.stringify(manifest, null, 2));
      lockfile.packages[workspace] = entry;
      lockfile.packages[`node_modules/${manifest.name}`] = lock.packages[`node_modules/${manifest.name}`];
    }
    fs.writeFileSync(path.join(clone, 'package.json'), JSON.stringify(root, null, 2));
    fs.writeFileSync(path.join(clone, 'package-lock.json'), JSON.stringify(lockfile, null, 2));
    fs.mkdirSync(path.join(clone, 'scripts'));
    fs.copyFileSync(fromRoot('scripts/npm-install.sh'), path.join(clone, 'scripts/npm-install.sh'));
    for (const workspace of WORKSPACES_WITH_BINS) expect({ workspace, built: fs.existsSync(path.join(clone, workspace, 'dist')) }).toEqual({ workspace, built: false });

    const env = npmEnv(clone);
    const install = spawnSync('bash', ['scripts/npm-install.sh'], { cwd: clone, env, encoding: 'utf8', timeout: 60_000 });
    expect({ status: install.status, stderr: install.stderr }).toEqual({ status: 0, stderr: install.stderr });

    for (const { workspace, name, target } of BINS) {
      const link = path.join(clone, 'node_modules', '.bin', name);
      expect({ name, linked: fs.existsSync(link) }).toEqual({ name, linked: true });
      expect(fs.realpathSync(link)).toBe(fs.realpathSync(path.join(clone, workspace, target)));
      // Not built yet: the workspace's own command answers, and says what to do.
      const npx = spawnSync('npx', ['--no-install', name, '--help'], { cwd: clone, env, encoding: 'utf8', timeout: 60_000 });
      expect({ name, status: npx.status, stderr: npx.stderr }).toEqual({
        name,
        status: 1,
        stderr: `${name}: not built yet: run \`make build\` (or \`npm run build\`) at the repository root\n`,
      });
    }
  });

  test('in this repository, after its build, `npx --no-install` runs the workspaces’ own outboxctl and outbox-migrate', () => {
    for (const { workspace, name, target } of BINS) {
      const link = fromRoot('node_modules', '.bin', name);
      if (!fs.existsSync(link)) throw new Error(`node_modules/.bin/${name} is missing: run \`make install\` (npm links it when it installs)`);
      expect(fs.realpathSync(link)).toBe(fs.realpathSync(fromRoot(workspace, target)));
    }
    const env = npmEnv(scratchDir('npx-'));
    const version = spawnSync('npx', ['--no-install', 'outboxctl', '--version'], { cwd: repoRoot, env, encoding: 'utf8', timeout: 60_000 });
    expect({ status: version.status, stdout: version.stdout, stderr: version.stderr }).toEqual({
      status: 0,
      stdout: `${manifestOf('services/outboxctl').version}\n`,
      stderr: '',
    });
    const help = spawnSync('npx', ['--no-install', 'outbox-migrate', '--help'], { cwd: repoRoot, env, encoding: 'utf8', timeout: 60_000 });
    expect({ status: help.status, stderr: help.stderr }).toEqual({ status: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: outbox-migrate/);
  });
});
