import fs from 'node:fs';
import path from 'node:path';
import { RELAY_COMMAND, RELAY_UID, RELAY_WORKDIR } from '../../services/operator/src/reconcile/pod-template';
import { copiesOf, dockerignore, parseDockerfile, type Copy, type Stage } from './support/dockerfile';
import { readManifests } from './support/kube-schemas';
import { findObject } from './support/kube-objects';
import { fromRoot, repoRoot } from './support/paths';

/**
 * No Docker engine runs here, so the Dockerfile is checked by reading it: what it copies must exist (and not be
 * hidden by .dockerignore), what it runs must be built by `npm run build` (make test builds before jest runs).
 */
const dockerfile = parseDockerfile(fromRoot('Dockerfile'));
const ignored = dockerignore(fromRoot('.dockerignore'));
const stage = (name: string): Stage => {
  const found = dockerfile.stages.find((s) => s.name === name);
  if (!found) throw new Error(`Dockerfile has no stage ${name}`);
  return found;
};
const runtime = dockerfile.stages.at(-1)!;
const workspaces: string[] = JSON.parse(fs.readFileSync(fromRoot('package.json'), 'utf8')).workspaces;

/** Files under a directory of the repository, relative to the root. */
function filesUnder(relative: string): string[] {
  const absolute = fromRoot(relative);
  if (!fs.statSync(absolute).isDirectory()) return [relative];
  return fs.readdirSync(absolute, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(repoRoot, path.join(e.parentPath, e.name)));
}

/** Where a path inside a stage's file system comes from in the repository (stages that mirror the repo root). */
function repoPathOf(copy: Copy, source: string): string {
  const from = stage(copy.from!);
  const root = from.workdir.replace(/\/$/, '');
  if (!source.startsWith(`${root}/`)) throw new Error(`COPY --from=${copy.from} ${source} (line ${copy.line}) is outside that stage's ${root}`);
  return source.slice(root.length + 1);
}

/** The file a runtime path like /app/docker/entrypoint.sh was copied from, or undefined. */
function runtimeSourceOf(target: string): string | undefined {
  for (const copy of copiesOf(runtime)) {
    if (copy.from) continue;
    for (const source of copy.sources) {
      const destination = copy.destination.endsWith('/') ? `${copy.destination}${path.basename(source)}` : copy.destination;
      if (destination === target) return source;
    }
  }
  return undefined;
}

describe('Dockerfile', () => {
  test('stages: deps, build, prod-deps and a final runtime stage on Node 26 (the newest LTS, as in CI) slim', () => {
    expect(dockerfile.stages.map((s) => s.name)).toEqual(['deps', 'build', 'prod-deps', 'runtime']);
    expect(dockerfile.globalArgs.NODE_IMAGE).toMatch(/^node:26[.-]/);
    for (const s of dockerfile.stages) expect([dockerfile.globalArgs.NODE_IMAGE, 'deps']).toContain(s.base);
  });

  test('every file copied from the build context exists and is not excluded by .dockerignore', () => {
    const problems: string[] = [];
    for (const s of dockerfile.stages) {
      for (const copy of copiesOf(s).filter((c) => !c.from)) {
        for (const source of copy.sources) {
          if (/[*?[]/.test(source)) problems.push(`line ${copy.line}: ${source} is a glob (this test checks plain paths)`);
          else if (!fs.existsSync(fromRoot(source))) problems.push(`line ${copy.line}: ${source} does not exist`);
          else if (filesUnder(source).filter((f) => !ignored(f)).length === 0) problems.push(`line ${copy.line}: .dockerignore hides ${source}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  test('every file copied from the build stage exists after `npm run build`', () => {
    const copies = dockerfile.stages.flatMap((s) => copiesOf(s)).filter((c) => c.from === 'build');
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      for (const source of copy.sources) expect({ source, exists: fs.existsSync(fromRoot(repoPathOf(copy, source))) }).toEqual({ source, exists: true });
    }
  });

  test.each(workspaces)('workspace %s: its package.json reaches both npm installs and its compiled dist the runtime image', (workspace) => {
    for (const name of ['deps', 'prod-deps']) {
      const sources = copiesOf(stage(name)).filter((c) => !c.from).flatMap((c) => c.sources);
      expect({ stage: name, has: sources.includes(`${workspace}/package.json`) }).toEqual({ stage: name, has: true });
    }
    const built = copiesOf(runtime).filter((c) => c.from === 'build').flatMap((c) => c.sources);
    expect(built).toContain(`/src/${workspace}/dist`);
    expect(fs.existsSync(fromRoot(workspace, 'dist'))).toBe(true);
  });

  test('every SQL migration folder of every service is in the runtime image', () => {
    const migrationDirs = workspaces.flatMap((w) =>
      fs.readdirSync(fromRoot(w), { withFileTypes: true }).filter((e) => e.isDirectory() && e.name.startsWith('migrations')).map((e) => `${w}/${e.name}`),
    );
    expect(migrationDirs.length).toBeGreaterThan(0);
    const copied = copiesOf(runtime).filter((c) => !c.from).flatMap((c) => c.sources);
    expect(migrationDirs.filter((d) => !copied.includes(d))).toEqual([]);
  });

  test('no dev dependencies at runtime: node_modules only from the prod-deps stage, installed with --omit=dev', () => {
    const install = stage('prod-deps').instructions.filter((i) => i.keyword === 'RUN' && i.text.includes('npm-ci.sh'));
    expect(install).toHaveLength(1);
    expect(install[0]!.text).toContain('--omit=dev');
    const fromStages = copiesOf(runtime).filter((c) => c.from);
    expect(fromStages.filter((c) => c.from !== 'build' && c.from !== 'prod-deps')).toEqual([]);
    for (const copy of fromStages.filter((c) => c.from === 'build')) {
      for (const source of copy.sources) expect(source).toMatch(/^\/src\/services\/[a-z]+\/dist$/);
    }
    expect(runtime.instructions.filter((i) => i.keyword === 'RUN' && /\bnpm\b/.test(i.text))).toEqual([]);
  });

  test("runs as the numeric non-root user the operator's relay pods, deploy/ and the charts expect, from /app", () => {
    const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1)!.args[0];
    expect(user).toBe(`${RELAY_UID}:${RELAY_UID}`);
    expect(runtime.workdir).toBe(RELAY_WORKDIR);
    const operator = findObject(readManifests('deploy/operator.yaml'), 'Deployment');
    expect(operator.spec.template.spec.securityContext.runAsUser).toBe(RELAY_UID);
    expect(operator.spec.template.spec.containers[0].workingDir).toBe(RELAY_WORKDIR);
  });

  test("the commands Kubernetes runs (the operator's relay pods, deploy/operator.yaml) are built and copied into /app", () => {
    const operator = findObject(readManifests('deploy/operator.yaml'), 'Deployment');
    for (const command of [RELAY_COMMAND, operator.spec.template.spec.containers[0].command as string[]]) {
      expect(command[0]).toBe('node');
      const script = command[1]!;
      expect(fs.existsSync(fromRoot(script))).toBe(true);
      const dist = script.replace(/\/dist\/.*$/, '/dist');
      expect(copiesOf(runtime).some((c) => c.from === 'build' && c.sources.includes(`/src/${dist}`) && c.destination === `${RELAY_WORKDIR}/${dist}`)).toBe(true);
    }
  });

  test('ENTRYPOINT and HEALTHCHECK run scripts that are copied into the image (executable where needed)', () => {
    const entrypoint = JSON.parse(runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT')!.text) as string[];
    expect(entrypoint).toEqual(['/app/docker/entrypoint.sh']);
    const entrySource = runtimeSourceOf(entrypoint[0]!);
    expect(entrySource).toBe('docker/entrypoint.sh');
    expect(fs.statSync(fromRoot(entrySource!)).mode & 0o111).not.toBe(0);

    const healthcheck = runtime.instructions.find((i) => i.keyword === 'HEALTHCHECK')!;
    const command = JSON.parse(healthcheck.text.replace(/^CMD\s+/, '')) as string[];
    expect(command[0]).toBe('node');
    expect(runtimeSourceOf(command[1]!)).toBe('docker/healthcheck.mjs');

    const cmd = JSON.parse(runtime.instructions.find((i) => i.keyword === 'CMD')!.text) as string[];
    expect(cmd).toEqual(['help']);
  });

  test('.dockerignore keeps local build output, node_modules, git history, secrets and logs out of the context', () => {
    for (const excluded of ['node_modules/pg/package.json', 'services/outbox/dist/mod.js', 'services/outbox/node_modules/x/index.js',
      'services/outbox/test/enqueue.test.ts', '.git/HEAD', '.env', '.demo/run/orders.log', '.tools/helm-2/helm', 'helm/outbox-relay-operator/Chart.yaml']) {
      expect({ excluded, ignored: ignored(excluded) }).toEqual({ excluded, ignored: true });
    }
    for (const included of ['package.json', 'package-lock.json', 'tsconfig.base.json', 'services/outbox/src/mod.ts',
      'services/outbox/migrations', 'docker/entrypoint.sh']) {
      expect({ included, ignored: ignored(included) }).toEqual({ included, ignored: false });
    }
  });
});
