/**
 * Issue 15, "Installable packages": the libraries a service needs work when installed from their tarballs into an
 * application that is not this workspace. The packages are packed as `npm publish` would pack them, installed
 * with their peers (the README's install line; `--prefer-offline`, so from the npm cache the workspace install
 * filled) into a new application in the system's temporary directory, where nothing of the workspace can be
 * found. There, the README's example ("Use it in your service") is compiled by strict TypeScript twice, as an ES
 * module and as CommonJS, and each build is run against Postgres and NATS: its order and event are committed, the
 * event reaches the stream with its headers, and SIGTERM stops it cleanly. Every export of every entry point is
 * compared as ESM and as CommonJS (they must be the same objects: one module instance), and the installed
 * `outboxctl` and `outbox-migrate` run from node_modules/.bin. A missing file, exports entry, type or dependency
 * fails one of these steps.
 *
 * The install and the compiler (which also checks every installed declaration file: skipLibCheck off) take most
 * of the time; one install serves both applications. Nothing is written inside the repository.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  PrivateNatsServer,
  readStream,
  startService,
  TEST_DATABASE_URL,
  uniqueName,
  waitFor,
  type ServiceProcess,
  type StoredMessage,
} from '@outbox-relay/test-support';
import { fromRoot } from './support/paths';

/** The packages a service installs, and the workspace package they depend on. */
const PUBLISHED = ['runtime', 'outbox', 'inbox', 'telemetry', 'outboxctl'] as const;

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  license?: string;
  description?: string;
  repository?: { type: string; url: string; directory?: string };
  engines?: { node?: string };
  main?: string;
  types?: string;
  exports?: Record<string, string | { types?: string; default?: string }>;
  bin?: Record<string, string>;
  files?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}
interface Packed {
  name: string;
  version: string;
  filename: string;
  files: Array<{ path: string }>;
}

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;
const root = readJson<Manifest>(fromRoot('package.json'));
const manifestOf = (pkg: string) => readJson<Manifest>(fromRoot('services', pkg, 'package.json'));
const publishedNames = PUBLISHED.map((pkg) => manifestOf(pkg).name);
const filesUnder = (dir: string): string[] =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)).map((f) => `${e.name}/${f}`) : [e.name]));

/** The README's "Use it in your service": its install commands and its example, which the test runs as written. */
const readme = fs.readFileSync(fromRoot('README.md'), 'utf8');
const usage = readme.slice(readme.indexOf('## Use it in your service'), readme.indexOf('\n## ', readme.indexOf('## Use it in your service') + 1));
const installLines = (/```sh\n([\s\S]*?)```/.exec(usage)?.[1] ?? '').split('\n').filter((l) => l.startsWith('npm install'));
const example = /```ts\n([\s\S]*?)```/.exec(usage)?.[1] ?? '';

/** A child's environment: this process's, with this Node first on PATH and no npm settings of an `npm test` run. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return { ...env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`, npm_config_update_notifier: 'false', ...extra };
}

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd: options.cwd, env: options.env ?? childEnv(), encoding: 'utf8', timeout: options.timeoutMs ?? 120_000 });
}

/** `result` as the test shows it when it fails: what ran and what it said. */
const outcome = (result: SpawnSyncReturns<string>) => ({ status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr });

let scratch: string;
let tarballs: string;
let app: string;
let packed: Packed[];
let nats: PrivateNatsServer;
let nc: NatsConnection;
let database: string;
let databaseUrl: string;
let admin: Pool;
/** The order and event each application wrote, in the order they ran: what outboxctl's status must show. */
const published: Array<{ format: string; orderId: string; eventId: string }> = [];

beforeAll(() => {
  for (const pkg of PUBLISHED) {
    if (!fs.existsSync(fromRoot('services', pkg, 'dist', 'mod.js'))) throw new Error(`services/${pkg} is not built: run \`npm run build\` (make test does)`);
  }
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-relay-pack-'));
  tarballs = path.join(scratch, 'tarballs');
  app = path.join(scratch, 'app');
  fs.mkdirSync(tarballs);
  fs.mkdirSync(app);
  const pack = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tarballs, ...PUBLISHED.flatMap((pkg) => ['-w', `services/${pkg}`])], { cwd: fromRoot() });
  if (pack.status !== 0) throw new Error(`npm pack failed: ${JSON.stringify(outcome(pack))}`);
  packed = JSON.parse(pack.stdout) as Packed[];
});

afterAll(async () => {
  await nc?.close();
  await nats?.destroy();
  await admin?.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await admin?.end();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe('the packed packages', () => {
  test('are the libraries a service needs, publishable, with one version, license, repository and engines', () => {
    expect(packed.map((p) => p.name).sort()).toEqual([...publishedNames].sort());
    for (const pkg of PUBLISHED) {
      const m = manifestOf(pkg);
      expect({ pkg, private: m.private, version: m.version, license: m.license, engines: m.engines }).toEqual({
        pkg,
        private: undefined,
        version: manifestOf('outbox').version,
        license: root.license,
        engines: root.engines,
      });
      expect(m.version).toMatch(/^\d+\.\d+\.\d+$/);
      expect(m.description?.length).toBeGreaterThan(20);
      expect(m.repository).toEqual({ ...root.repository, directory: `services/${pkg}` });
      // The workspace's packages are released together: each depends on the others' exact version, never on `*`.
      for (const [name, range] of Object.entries(m.dependencies ?? {})) {
        if (name.startsWith('@outbox-relay/')) expect({ pkg, name, range, published: publishedNames.includes(name) }).toEqual({ pkg, name, range: m.version, published: true });
      }
    }
  });

  test('ship dist without maps, build info, tests or stale output, their commands, migrations, README and LICENSE', () => {
    const license = fs.readFileSync(fromRoot('LICENSE'), 'utf8');
    for (const { name, filename, files } of packed) {
      const pkg = name.replace('@outbox-relay/', '');
      const m = manifestOf(pkg);
      const paths = files.map((f) => f.path);
      const unexpected = paths.filter(
        (p) => !/^(package\.json|README\.md|LICENSE|launcher\.cjs|launcher\.d\.cts|(dist|bin|migrations)\/.+)$/.test(p) || /\.map$|tsbuildinfo|(^|\/)test\/|\.test\./.test(p),
      );
      expect({ name, unexpected }).toEqual({ name, unexpected: [] });
      // Compiled output whose source is gone (a renamed file) would ship code nobody maintains.
      const stale = paths.filter((p) => /^dist\/.*\.js$/.test(p) && !fs.existsSync(fromRoot('services', pkg, 'src', p.slice('dist/'.length).replace(/\.js$/, '.ts'))));
      expect({ name, stale }).toEqual({ name, stale: [] });
      for (const file of ['package.json', 'README.md', 'LICENSE', ...Object.values(m.bin ?? {}).map((b) => path.posix.normalize(b))]) expect({ name, file, shipped: paths.includes(file) }).toEqual({ name, file, shipped: true });
      // The migrations the library runs at run time (OUTBOX_MIGRATIONS_DIR, INBOX_MIGRATIONS_DIR): all of them.
      const migrations = fromRoot('services', pkg, 'migrations');
      if (fs.existsSync(migrations)) expect(paths.filter((p) => p.startsWith('migrations/')).sort()).toEqual(filesUnder(migrations).map((f) => `migrations/${f}`).sort());
      const unpacked = path.join(scratch, 'unpacked', pkg);
      fs.mkdirSync(unpacked, { recursive: true });
      expect(run('tar', ['-xzf', path.join(tarballs, filename), '-C', unpacked], { cwd: scratch }).status).toBe(0);
      expect(fs.readFileSync(path.join(unpacked, 'package', 'LICENSE'), 'utf8')).toBe(license);
    }
  });

  test('have an exports map whose every entry has types, and files that exist in the tarball', () => {
    for (const { name, files } of packed) {
      const m = manifestOf(name.replace('@outbox-relay/', ''));
      const paths = new Set(files.map((f) => f.path));
      const shipped = (target: string) => paths.has(path.posix.normalize(target));
      expect(Object.keys(m.exports ?? {})).toEqual(expect.arrayContaining(['.', './package.json']));
      for (const [entry, target] of Object.entries(m.exports ?? {})) {
        if (entry === './package.json') continue;
        expect({ name, entry, target }).toEqual({ name, entry, target: { types: expect.any(String), default: expect.any(String) } });
        const { types, default: js } = target as { types: string; default: string };
        expect({ name, entry, types: shipped(types), js: shipped(js) }).toEqual({ name, entry, types: true, js: true });
      }
      // Resolvers that read no exports map (TypeScript's node10) find the same files.
      expect({ main: m.main, types: m.types }).toEqual({ main: (m.exports?.['.'] as { default: string }).default, types: (m.exports?.['.'] as { types: string }).types });
    }
  });

  test('declare every package their code loads, and share pg, NATS and OpenTelemetry with the application as peers', () => {
    const builtins = new Set(builtinModules);
    const packageOf = (specifier: string) => (specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
    for (const pkg of PUBLISHED) {
      const m = manifestOf(pkg);
      const declared = new Set([...Object.keys(m.dependencies ?? {}), ...Object.keys(m.peerDependencies ?? {})]);
      const dist = fromRoot('services', pkg, 'dist');
      const loaded = new Set<string>();
      const typed = new Set<string>();
      for (const file of filesUnder(dist)) {
        const code = fs.readFileSync(path.join(dist, file), 'utf8');
        // Compiled imports are require("x"); a require written in the source (a lazy one) keeps its quotes.
        if (file.endsWith('.js')) for (const [, , s] of code.matchAll(/\brequire\((["'])([^"'.][^"']*)\1\)/g)) loaded.add(packageOf(s!));
        if (file.endsWith('.d.ts')) for (const [, , s] of code.matchAll(/(?:\bfrom |\bimport\()(["'])([^"'.][^"']*)\1/g)) typed.add(packageOf(s!));
      }
      const undeclared = [...loaded].filter((p) => !p.startsWith('node:') && !builtins.has(p) && !declared.has(p));
      expect({ pkg, undeclared }).toEqual({ pkg, undeclared: [] });
      // A declaration naming `pg` resolves to @types/pg, which the package asks for (optional: JavaScript users need none).
      const untyped = [...typed].filter((p) => !p.startsWith('node:') && !builtins.has(p) && !declared.has(p) && !declared.has(`@types/${p}`));
      expect({ pkg, untyped }).toEqual({ pkg, untyped: [] });
      for (const peer of Object.keys(m.peerDependencies ?? {})) {
        // Two copies of these in one process break things (a second OpenTelemetry context, pg's types against the
        // application's), and the workspace must still install each for its own tests.
        expect({ pkg, peer, inTheWorkspace: Boolean(m.devDependencies?.[peer] ?? root.devDependencies?.[peer]) }).toEqual({ pkg, peer, inTheWorkspace: true });
      }
    }
    const peersOf = (pkg: string) => Object.keys(manifestOf(pkg).peerDependencies ?? {}).sort();
    expect(peersOf('outbox')).toEqual(['@nats-io/jetstream', '@nats-io/nats-core', '@nats-io/transport-node', '@opentelemetry/api', '@types/pg', 'pg']);
    expect(manifestOf('outbox').peerDependenciesMeta).toEqual({ '@types/pg': { optional: true } });
  });
});

describe('installed into an application outside the workspace', () => {
  beforeAll(async () => {

    // The servers the applications talk to: a database of their own (the example uses fixed table and schema names)
    // and a private nats-server (the example publishes to the stream OUTBOX).
    database = uniqueName('pack_install');
    admin = new Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
    await admin.query(`CREATE DATABASE "${database}"`);
    const url = new URL(TEST_DATABASE_URL);
    url.pathname = `/${database}`;
    databaseUrl = url.toString();
    nats = await PrivateNatsServer.start();
    nc = await connect({ servers: nats.url });


    // The README's install commands, with the packages of this workspace as their tarballs (all of them: none is in
    // a registry yet) and the others at the versions the workspace has, so that npm finds them in its cache.
    const tarballOf = new Map(packed.map((p) => [p.name, path.join(tarballs, p.filename)]));
    const requested = installLines.flatMap((line) => line.split(/\s+/).slice(2).filter((word) => !word.startsWith('-')));
    const fromRegistry = requested
      .filter((name) => !tarballOf.has(name) && name !== 'typescript') // the workspace's compiler compiles the apps
      .map((name) => `${name}@${readJson<Manifest>(fromRoot('node_modules', name, 'package.json')).version}`);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'outbox-relay-consumer-app', version: '1.0.0', private: true }, null, 2));
    const install = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...tarballOf.values(), ...fromRegistry], {
      cwd: app,
      timeoutMs: 240_000,
    });
    if (install.status !== 0) throw new Error(`npm install in ${app} failed: ${JSON.stringify(outcome(install))}`);

    // One ES module application and one CommonJS application, told apart by their package.json as an application's
    // would be, compiled in one program (each file's format comes from its nearest package.json).
    for (const [format, type] of [['esm', 'module'], ['cjs', 'commonjs']] as const) {
      fs.mkdirSync(path.join(app, format));
      fs.writeFileSync(path.join(app, format, 'package.json'), JSON.stringify({ type }));
      fs.writeFileSync(path.join(app, format, 'app.ts'), example);
      fs.writeFileSync(path.join(app, format, 'types.ts'), TYPE_CHECKS);
    }
    fs.writeFileSync(path.join(app, 'esm', 'exports.ts'), EXPORTS_REPORT);
    fs.writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          target: 'es2023',
          strict: true,
          noUncheckedIndexedAccess: true,
          // The installed declaration files are checked too: one that names a file or a package that is not there
          // would otherwise turn its types into `any` without a word.
          skipLibCheck: false,
          types: ['node'],
        },
        include: ['esm', 'cjs'],
      }),
    );
    const tsc = run(process.execPath, [fromRoot('node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { cwd: app });
    if (tsc.status !== 0) throw new Error(`strict TypeScript refused the applications:\n${tsc.stdout}${tsc.stderr}`);
  }, 360_000);

  test('nothing resolves into the workspace: the application has its own copies of the packages', () => {
    for (const name of [...publishedNames, 'pg', '@nats-io/jetstream', '@opentelemetry/api']) {
      const dir = path.join(app, 'node_modules', name);
      expect({ name, installed: fs.existsSync(path.join(dir, 'package.json')), aLink: fs.lstatSync(dir).isSymbolicLink() }).toEqual({ name, installed: true, aLink: false });
    }
    // And the workspace is not on the way up from the application (Node looks in every parent's node_modules).
    expect(path.relative(fromRoot(), app).startsWith('..')).toBe(true);
  });

  test('an ES module sees every export of every entry point, as the same objects a require() returns', () => {
    const entries = packed.flatMap(({ name }) =>
      Object.keys(manifestOf(name.replace('@outbox-relay/', '')).exports ?? {})
        .filter((entry) => entry !== './package.json')
        .map((entry) => (entry === '.' ? name : `${name}/${entry.slice(2)}`)),
    );
    expect(entries).toEqual(expect.arrayContaining(['@outbox-relay/outbox', '@outbox-relay/outbox/internal', '@outbox-relay/runtime/launcher.cjs']));
    const report = run(process.execPath, ['esm/exports.js', JSON.stringify(entries)], { cwd: app });
    expect(outcome(report)).toMatchObject({ status: 0, stderr: '' });
    const byEntry = JSON.parse(report.stdout) as Record<string, { exports: string[]; notInEsm: string[]; sameModule: boolean }>;
    for (const entry of entries) {
      expect({ entry, ...byEntry[entry], exports: byEntry[entry]?.exports.length ?? 0 }).toEqual({ entry, exports: expect.any(Number), notInEsm: [], sameModule: true });
      expect(byEntry[entry]?.exports.length).toBeGreaterThan(0);
    }
    expect(byEntry['@outbox-relay/outbox']?.exports).toEqual(expect.arrayContaining(['Outbox', 'enqueue', 'migrateOutbox', 'OutboxRelay', 'startEmbeddedRelay', 'ConfigError']));
  });

  test.each(['esm', 'cjs'])('the README example as %s: order and event in one transaction, the event in the stream with its headers, a clean stop', async (format) => {
    expect(fs.readFileSync(path.join(app, format, 'app.js'), 'utf8').includes('require("@outbox-relay/outbox")')).toBe(format === 'cjs');
    const service: ServiceProcess = startService(path.join(app, format, 'app.js'), { DATABASE_URL: databaseUrl, NATS_URL: nats.url }, { cwd: app });
    try {
      const written = await waitFor(`the ${format} application's order`, () => {
        if (service.child.exitCode !== null) throw new Error(`the ${format} application exited with ${service.child.exitCode}: ${service.stderr()}`);
        const line = service.logs.map((l) => /^order (\S+) written with event (\S+)$/.exec(String(l.msg ?? ''))).find(Boolean);
        return line ? { orderId: line[1]!, eventId: line[2]! } : undefined;
      }, 30_000);
      const message = await waitFor<StoredMessage>(`event ${written.eventId} in the stream`, async () => {
        const stored = await readStream(nc, 'OUTBOX').catch(() => []); // the relay creates the stream
        return stored.find((m) => m.eventId === written.eventId);
      }, 30_000);
      expect(message.subject).toBe('outbox.Order.OrderCreated');
      expect(message.data).toEqual({ orderId: written.orderId, amount: 42.5 });
      expect(message.headers).toMatchObject({
        'Nats-Msg-Id': written.eventId,
        'Outbox-Event-Id': written.eventId,
        'Outbox-Event-Type': 'OrderCreated',
        'Outbox-Aggregate-Type': 'Order',
        'Outbox-Aggregate-Id': written.orderId,
        'Outbox-Partition': '0',
      });
      const db = new Pool({ connectionString: databaseUrl, max: 1 });
      try {
        expect((await db.query('SELECT amount::float8 AS amount FROM orders WHERE id = $1', [written.orderId])).rows).toEqual([{ amount: 42.5 }]);
      } finally {
        await db.end();
      }
      // The library logged through `console` (the example's logger), with the relay's bindings on the line.
      expect(service.logs.some((l) => /publishing as leader/.test(String(l.msg ?? '')))).toBe(true);
      expect({ exitCode: await service.stop('SIGTERM'), stderr: service.stderr() }).toEqual({ exitCode: 0, stderr: '' });
      published.push({ format, ...written });
    } finally {
      await service.terminate(5_000);
    }
  }, 90_000);

  test('the installed outboxctl and outbox-migrate run from node_modules/.bin', () => {
    const bin = (name: string) => path.join(app, 'node_modules', '.bin', name);
    expect(outcome(run(bin('outboxctl'), ['--version'], { cwd: app }))).toMatchObject({ status: 0, stdout: `${manifestOf('outboxctl').version}\n`, stderr: '' });
    expect(outcome(run(bin('outbox-migrate'), ['--help'], { cwd: app }))).toMatchObject({ status: 0, stdout: expect.stringMatching(/^Usage: outbox-migrate/), stderr: '' });
    const status = run(bin('outboxctl'), ['status', '--json'], { cwd: app, env: childEnv({ DATABASE_URL: databaseUrl }) });
    expect(outcome(status)).toMatchObject({ status: 0, stderr: '' });
    const parsed = JSON.parse(status.stdout) as { schema: string; partitions: Array<{ pending: number; publishedTotal: number; lastPublished: { id: string } | null }> };
    // What the two applications wrote, all of it published, the last one last.
    expect(published.map((p) => p.format)).toEqual(['esm', 'cjs']);
    expect(parsed).toMatchObject({ schema: 'outbox', partitions: [{ pending: 0, publishedTotal: 2, lastPublished: { id: published[1]!.eventId } }] });
  });
});

/**
 * Compiled, never run: each package's types are real. A declaration that resolved to `any` would accept every line
 * marked @ts-expect-error, and the compiler then refuses the unused directive.
 */
const TYPE_CHECKS = `import pg from 'pg';
import { enqueue, Outbox, OutboxRelay, silentLogger, type EnqueuedEvent, type Logger } from '@outbox-relay/outbox';
import { PubAckCollector, type OutboxRecord } from '@outbox-relay/outbox/internal';
import { Inbox, type InboxEvent, type Logger as InboxLogger } from '@outbox-relay/inbox';
import { ServiceMetrics } from '@outbox-relay/telemetry';
import { ExitCode, run } from '@outbox-relay/outboxctl';
import { launch } from '@outbox-relay/runtime/launcher.cjs';

export async function typeChecks(pool: pg.Pool, tx: pg.PoolClient, record: OutboxRecord, event: InboxEvent): Promise<unknown[]> {
  const outbox = new Outbox({ pool, schema: 'shop', logger: console });
  // @ts-expect-error the pool is a pg.Pool, not a connection string
  new Outbox({ pool: 'postgres://127.0.0.1/shop' });
  // @ts-expect-error an event names its aggregate
  await outbox.enqueue(tx, { aggregateType: 'Order', eventType: 'OrderCreated', payload: {} });
  const written: EnqueuedEvent[] = await enqueue(tx, { aggregateType: 'Order', aggregateId: 'o-1', eventType: 'OrderCreated', payload: { n: 1 } });
  const loggers: InboxLogger[] = [console, silentLogger];
  // @ts-expect-error a logger has error too
  const partial: Logger = { debug() {}, info() {}, warn() {} };
  const inbox = new Inbox({ pool, schema: 'inbox', consumer: 'billing', logger: silentLogger });
  // @ts-expect-error an exit code is a number
  const code: string = await run(['status'], { stdout: process.stdout, stderr: process.stderr, env: {} });
  // @ts-expect-error the command and its compiled entry
  launch('outboxctl');
  return [written[0]?.seq, record.aggregateId, event.eventType, inbox.consumer, loggers, ExitCode.ok, partial, code, OutboxRelay, PubAckCollector, new ServiceMetrics().registry];
}
`;

/** Run as an ES module: for each entry point given, the names a require() sees that an import does not, as the same object. */
const EXPORTS_REPORT = `import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const report: Record<string, { exports: string[]; notInEsm: string[]; sameModule: boolean }> = {};
for (const entry of JSON.parse(process.argv[2] ?? '[]') as string[]) {
  const esm = (await import(entry)) as Record<string, unknown>;
  const cjs = require(entry) as Record<string, unknown>;
  const exports = Object.keys(cjs);
  report[entry] = { exports, notInEsm: exports.filter((name) => esm[name] !== cjs[name]), sameModule: esm.default === cjs };
}
console.log(JSON.stringify(report));
`;
