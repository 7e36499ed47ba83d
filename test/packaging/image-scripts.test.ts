import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fromRoot, repoRoot } from './support/paths';

/**
 * The image's own scripts, run here the way the image runs them: docker/entrypoint.sh finds /app as its parent
 * folder, which is the repository root here (same layout: services/<name>/dist/main.js after `npm run build`).
 */
const ENTRYPOINT = fromRoot('docker/entrypoint.sh');
const HEALTHCHECK = fromRoot('docker/healthcheck.mjs');
/** A bare environment, as in a container started without any variable. */
const bareEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir() };

function entrypoint(args: string[], env: Record<string, string> = {}) {
  return spawnSync('sh', [ENTRYPOINT, ...args], { cwd: os.tmpdir(), env: { ...bareEnv, ...env }, encoding: 'utf8', timeout: 30_000 });
}

/** The entry points docker/entrypoint.sh dispatches to services/<name>/dist/main.js. */
const SERVICE_ENTRY_POINTS = (() => {
  const text = fs.readFileSync(ENTRYPOINT, 'utf8');
  const line = /^\s*([a-z |]+)\)\s*\n\s*shift\s*\n\s*exec node "services\/\$entry\/dist\/main\.js"/m.exec(text);
  if (!line) throw new Error('docker/entrypoint.sh: no case line dispatching to services/$entry/dist/main.js');
  return line[1]!.split('|').map((s) => s.trim());
})();

describe('docker/entrypoint.sh', () => {
  test('dispatches the six processes of the issue', () => {
    expect([...SERVICE_ENTRY_POINTS].sort()).toEqual(['operator', 'orders', 'outboxctl', 'payments', 'relay', 'subscriber']);
  });

  test.each(SERVICE_ENTRY_POINTS)('entry point %s is built by `npm run build`', (name) => {
    expect(fs.existsSync(fromRoot('services', name, 'dist/main.js'))).toBe(true);
  });

  test('help (the default CMD) lists every entry point and exits 0', () => {
    const run = entrypoint(['help']);
    expect(run.status).toBe(0);
    for (const name of [...SERVICE_ENTRY_POINTS, 'migrate']) expect(run.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  test.each([
    ['relay', ['relay'], 'DATABASE_URL'],
    ['orders', ['orders'], 'DATABASE_URL'],
    ['subscriber', ['subscriber'], 'SUBSCRIBER_ID'],
    ['payments', ['payments'], 'DATABASE_URL'],
    ['migrate', ['migrate'], 'DATABASE_URL'],
  ])('`%s` reaches the real process: without configuration it exits 2 naming the missing variable', (_name, args, variable) => {
    const run = entrypoint(args);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(variable);
  });

  test('`operator` reaches the operator: a bad variable exits 2 naming it', () => {
    const run = entrypoint(['operator'], { WORKERS: '0' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('WORKERS');
  });

  test('`outboxctl --help` passes its arguments through', () => {
    const run = entrypoint(['outboxctl', '--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('status');
    expect(run.stdout).toContain('dlq');
  });

  test('any installed command runs as given; an unknown entry point exits 2 naming it', () => {
    const node = entrypoint(['node', '-e', 'process.stdout.write(process.cwd())']);
    expect(node.status).toBe(0);
    expect(node.stdout).toBe(repoRoot);
    const unknown = entrypoint(['relai']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("unknown entry point 'relai'");
  });
});

describe('docker/healthcheck.mjs', () => {
  let server: http.Server;
  let port: number;
  let answer = 200;
  let dir: string;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      res.writeHead(req.url === '/healthz' ? answer : 404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'healthcheck-'));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the check as if PID 1 had this command line (asynchronously: the server above answers in this process). */
  function healthcheck(cmdline: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string }> {
    const file = path.join(dir, `cmdline-${cmdline.length}-${Object.keys(env).join('-')}`);
    fs.writeFileSync(file, `${cmdline.join('\0')}\0`);
    return new Promise((resolve) => {
      const child = execFile(process.execPath, [HEALTHCHECK], { env: { ...bareEnv, HEALTHCHECK_CMDLINE_FILE: file, HEALTHCHECK_TIMEOUT_MS: '20000', ...env }, encoding: 'utf8', timeout: 30_000 }, (_error, stdout) =>
        resolve({ status: child.exitCode, stdout }),
      );
    });
  }

  test.each([
    ['relay', 'RELAY_HTTP_PORT'],
    ['orders', 'PORT'],
    ['operator', 'OPERATOR_HTTP_PORT'],
    ['payments', 'PAYMENTS_HTTP_PORT'],
    ['subscriber', 'SUBSCRIBER_HTTP_PORT'],
  ])("%s: asks /healthz on the port of %s; healthy on 200, unhealthy on 503", async (service, variable) => {
    const cmdline = ['node', `services/${service}/dist/main.js`];
    answer = 200;
    const healthy = await healthcheck(cmdline, { [variable]: String(port) });
    expect(healthy.stdout).toContain(`healthy: ${service} http://127.0.0.1:${port}/healthz answered 200`);
    expect(healthy.status).toBe(0);
    answer = 503;
    const unhealthy = await healthcheck(cmdline, { [variable]: String(port) });
    expect(unhealthy.stdout).toContain('answered 503');
    expect(unhealthy.status).toBe(1);
  });

  test('finds the service through the entry point script too (/app/services/<name>/dist/main.js)', async () => {
    answer = 200;
    const run = await healthcheck(['node', '/app/services/relay/dist/main.js', '--flag'], { RELAY_HTTP_PORT: String(port) });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('relay');
  });

  test('unhealthy when nothing listens on the service port', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const run = await healthcheck(['node', 'services/relay/dist/main.js'], { RELAY_HTTP_PORT: String(freePort) });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('unhealthy: relay');
  });

  test('healthy while running when there is no endpoint to ask: a subscriber without a port, outboxctl, a shell', async () => {
    for (const cmdline of [['node', 'services/subscriber/dist/main.js'], ['node', 'services/outboxctl/dist/main.js', 'status'], ['sh']]) {
      const run = await healthcheck(cmdline, {});
      expect({ cmdline, status: run.status }).toEqual({ cmdline, status: 0 });
      expect(run.stdout).toContain('no health endpoint');
    }
  });
});
