/**
 * `make services` (scripts/ensure-services.sh) on a machine with neither Postgres nor NATS installed: it goes on to
 * the container path when an engine answers and the Node can run testcontainers, and otherwise stops saying what
 * to do. Each run is in a network namespace of its own, where nothing answers on 127.0.0.1:5432 / 4222, with a
 * PATH that has no Postgres or NATS programs; the engine is a Docker API `_ping` on a Unix socket of the test.
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fromRoot } from '../packaging/support/paths';

const SCRIPT = fromRoot('scripts/ensure-services.sh');
const which = (name: string) => spawnSync('bash', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
const UNSHARE = which('unshare');
const canUnshare = UNSHARE !== '' && spawnSync(UNSHARE, ['--net', 'true']).status === 0;
if (!canUnshare) process.stderr.write('test/suite/ensure-services.test.ts: skipped, it needs `unshare --net` (root, util-linux)\n');

const nodeIsNew = (node: string) =>
  spawnSync(node, ['-e', 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 22) ? 0 : 1)']).status === 0;
/** A Node that runs testcontainers 12 (this one, or the one `make test-containers` puts in .tools), and one that does not. */
const newNode = [process.execPath, fromRoot('.tools/node_modules/node/bin/node')].find((n) => fs.existsSync(n) && nodeIsNew(n));
const oldNode = [process.execPath].find((n) => !nodeIsNew(n));
const withNewNode = canUnshare && newNode ? it : it.skip;
const withOldNode = canUnshare && oldNode ? it : it.skip;
if (canUnshare && !newNode) process.stderr.write('test/suite/ensure-services.test.ts: the cases with Node >= 22.22 are skipped: no such Node here (make test-containers installs one)\n');

let dir: string;
let engine: http.Server;
let socket: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ensure-services-'));
  socket = path.join(dir, 'engine.sock');
  engine = http.createServer((req, res) => res.end(req.url === '/_ping' ? 'OK' : ''));
  await new Promise<void>((resolve) => engine.listen(socket, resolve));
});
afterAll(async () => {
  await new Promise((resolve) => engine.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs the script in a fresh network namespace with `node` and the few programs it needs (no pg_ctlcluster, psql, nats-server). */
function run(node: string, env: Record<string, string>): Promise<{ code: number; out: string }> {
  const tools = fs.mkdtempSync(path.join(dir, 'bin-'));
  for (const tool of ['bash', 'curl', 'timeout', 'sleep', 'id', 'xargs', 'basename', 'sort', 'tail', 'grep', 'sed', 'cat']) {
    const found = which(tool);
    if (found) fs.symlinkSync(found, path.join(tools, tool));
  }
  fs.symlinkSync(node, path.join(tools, 'node'));
  const home = fs.mkdtempSync(path.join(dir, 'home-'));
  return new Promise((resolve) => {
    execFile(
      UNSHARE,
      ['--net', 'bash', SCRIPT],
      { env: { PATH: tools, HOME: home, NATS_SERVER_BIN: path.join(dir, 'no-nats-server'), ...env }, encoding: 'utf8', timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

withNewNode('an engine answers: each service is left to the test run, which starts it in a container', async () => {
  const { code, out } = await run(newNode!, { DOCKER_HOST: `unix://${socket}` });
  expect(out).toContain(`Postgres: not installed here; the test run will start it in a container (engine at unix://${socket})`);
  expect(out).toContain(`NATS: not installed here; the test run will start it in a container (engine at unix://${socket})`);
  expect(code).toBe(0);
});

withNewNode('no engine answers: exit 1 naming what is missing, how to install it, and why no container', async () => {
  const { code, out } = await run(newNode!, { DOCKER_HOST: `unix://${dir}/none.sock` });
  expect(code).toBe(1);
  expect(out).toContain('Postgres: not installed; run: apt-get install -y postgresql (or set DATABASE_URL)');
  expect(out).toContain('NATS: not installed; run: apt-get install -y nats-server (or set NATS_URL)');
  expect(out).toContain('missing here: Postgres NATS');
  expect(out).toContain(`so the test run starts them in containers: no Docker-compatible engine answers (DOCKER_HOST=unix://${dir}/none.sock)`);
  expect(out).toContain('bash scripts/containers/podman-setup.sh');
});

withOldNode('an engine answers but this Node cannot run testcontainers: exit 1 saying which Node is needed', async () => {
  const { code, out } = await run(oldNode!, { DOCKER_HOST: `unix://${socket}` });
  expect(code).toBe(1);
  expect(out).toContain(`the container path needs Node >= 22.22 (testcontainers 12), and this is Node v${process.versions.node}`);
});

withNewNode('OUTBOX_TEST_SERVICES=local: no container fallback even where an engine answers', async () => {
  const { code, out } = await run(newNode!, { DOCKER_HOST: `unix://${socket}`, OUTBOX_TEST_SERVICES: 'local' });
  expect(code).toBe(1);
  expect(out).toContain('missing here: Postgres NATS');
  expect(out).not.toContain('container');
});

withNewNode('OUTBOX_TEST_SERVICES=containers: only the engine is checked', async () => {
  const answered = await run(newNode!, { DOCKER_HOST: `unix://${socket}`, OUTBOX_TEST_SERVICES: 'containers' });
  expect(answered).toEqual({ code: 0, out: expect.stringContaining('OUTBOX_TEST_SERVICES=containers: the test run starts Postgres and NATS in containers') });
  const none = await run(newNode!, { DOCKER_HOST: `unix://${dir}/none.sock`, OUTBOX_TEST_SERVICES: 'containers' });
  expect(none.code).toBe(1);
  expect(none.out).toContain('no Docker-compatible engine answers');
});

(canUnshare ? it : it.skip)('a bad OUTBOX_TEST_SERVICES exits 2 naming the values it takes', async () => {
  const { code, out } = await run(process.execPath, { OUTBOX_TEST_SERVICES: 'docker' });
  expect(code).toBe(2);
  expect(out).toContain("OUTBOX_TEST_SERVICES must be auto, local or containers (got 'docker')");
});
