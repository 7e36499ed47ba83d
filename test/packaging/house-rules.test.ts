/**
 * The rules of ARCHITECTURE.md, checked on the code: a rule nobody checks drifts. Imports point down (libraries
 * never import services, the runtime imports nothing of the system, the outbox library's rooms import only rooms
 * below them, and there is no import cycle inside it); only entry points read process.env; the outbox package
 * refuses deep imports and serves its building blocks through `/internal`.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { ROOT } from '@outbox-relay/test-support';

const LIBRARIES = ['runtime', 'outbox', 'inbox', 'telemetry'];
const SERVICES = ['orders', 'payments', 'relay', 'subscriber', 'outboxctl', 'operator'];
/** The outbox library's rooms, from the top down (ARCHITECTURE.md, "Inside the outbox library"). */
const ROOMS = ['relay', 'publish', 'write', 'election', 'maintenance', 'schema', 'postgres'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

/** The code of a file without its comments (a comment may name what the code must not do). */
const codeOf = (file: string) => readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
const importsOf = (file: string) => [...codeOf(file).matchAll(/\bfrom '([^']+)'/g)].map((m) => m[1]!);
const srcOf = (pkg: string) => path.join(ROOT, 'services', pkg, 'src');

it('libraries import no service, and the runtime nothing of the system', () => {
  const wrong: string[] = [];
  for (const library of LIBRARIES) {
    for (const file of sourceFiles(srcOf(library))) {
      for (const target of importsOf(file)) {
        const pkg = /^@outbox-relay\/([a-z-]+)/.exec(target)?.[1];
        if (pkg === undefined) continue;
        if (SERVICES.includes(pkg) || (library === 'runtime' && pkg !== 'runtime')) wrong.push(`${path.relative(ROOT, file)} imports ${target}`);
      }
    }
  }
  expect(wrong).toEqual([]);
});

it('no service imports another: each owns its tables and hears of the others only through events', () => {
  const wrong: string[] = [];
  for (const service of SERVICES) {
    for (const file of sourceFiles(srcOf(service))) {
      for (const target of importsOf(file)) {
        const pkg = /^@outbox-relay\/([a-z-]+)/.exec(target)?.[1];
        if (pkg !== undefined && pkg !== service && SERVICES.includes(pkg)) wrong.push(`${path.relative(ROOT, file)} imports ${target}`);
      }
    }
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'services', service, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const dependency of Object.keys(manifest.dependencies ?? {})) {
      const pkg = /^@outbox-relay\/([a-z-]+)$/.exec(dependency)?.[1];
      if (pkg !== undefined && SERVICES.includes(pkg)) wrong.push(`services/${service}/package.json depends on ${dependency}`);
    }
  }
  expect(wrong).toEqual([]);
});

describe('inside the outbox library', () => {
  const src = srcOf('outbox');
  const files = sourceFiles(src);
  /** Relative imports, resolved to files of the library. */
  const edges = new Map(
    files.map((file) => [
      file,
      importsOf(file)
        .filter((target) => target.startsWith('.'))
        .map((target) => `${path.resolve(path.dirname(file), target)}.ts`),
    ]),
  );
  const roomOf = (file: string) => path.relative(src, file).split(path.sep)[0]!;

  it('a room imports only rooms below it', () => {
    const upward: string[] = [];
    for (const [file, targets] of edges) {
      const from = ROOMS.indexOf(roomOf(file));
      for (const target of targets) {
        const to = ROOMS.indexOf(roomOf(target));
        if (from >= 0 && to >= 0 && to < from) upward.push(`${path.relative(src, file)} -> ${path.relative(src, target)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].map((f) => path.relative(src, f)).join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const target of edges.get(file) ?? []) visit(target, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });
});

it('only entry points read process.env (configuration is read once and passed down)', () => {
  const entryPoint = (rel: string) =>
    /^services\/[a-z-]+\/src\/main\.ts$/.test(rel) ||
    rel.startsWith('services/outbox/src/cli/') ||
    rel === 'services/outboxctl/src/cli.ts' ||
    // readEnvOrExit's default argument: what main.ts passes when it passes nothing.
    rel === 'services/runtime/src/env.ts';
  const readers = [...LIBRARIES, ...SERVICES]
    .flatMap((pkg) => sourceFiles(srcOf(pkg)))
    .map((file) => path.relative(ROOT, file))
    .filter((rel) => !entryPoint(rel) && /\bprocess\.env\b/.test(codeOf(path.join(ROOT, rel))));
  expect(readers).toEqual([]);
});

it('the outbox package serves its building blocks through /internal and refuses deep imports', () => {
  const node = (code: string) => {
    try {
      return execFileSync(process.execPath, ['-e', code], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' }).trim();
    } catch (error) {
      return `failed: ${String((error as { stderr?: string }).stderr ?? error)}`;
    }
  };
  expect(node("console.log(typeof require('@outbox-relay/outbox/internal').PubAckCollector)")).toBe('function');
  expect(node("console.log(typeof require('@outbox-relay/outbox').Outbox)")).toBe('function');
  expect(node("require('@outbox-relay/outbox/dist/relay/relay.js')")).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
});

it('one name per concept: no two packages export different things under the same name', () => {
  const entries = [...LIBRARIES, ...SERVICES].flatMap((pkg) =>
    ['mod.ts', 'internal.ts'].map((entry) => path.join(srcOf(pkg), entry)).filter((file) => statSync(file, { throwIfNoEntry: false })),
  );
  const program = ts.createProgram(entries, {
    noEmit: true,
    skipLibCheck: true,
    baseUrl: ROOT,
    paths: { '@outbox-relay/outbox/internal': ['services/outbox/src/internal.ts'], '@outbox-relay/*': ['services/*/src/mod.ts'] },
  });
  const checker = program.getTypeChecker();
  const declaredIn = new Map<string, Set<string>>();
  for (const entry of entries) {
    const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry)!);
    for (const exported of checker.getExportsOfModule(moduleSymbol!)) {
      const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const file = target.declarations?.[0]?.getSourceFile().fileName;
      // Third-party names passed on (fastify's request types) are the same thing wherever they are re-exported.
      if (file === undefined || file.includes('node_modules')) continue;
      const places = declaredIn.get(exported.name) ?? new Set<string>();
      places.add(path.relative(ROOT, file));
      declaredIn.set(exported.name, places);
    }
  }
  const collisions = [...declaredIn].filter(([, places]) => places.size > 1).map(([name, places]) => `${name}: ${[...places].join(', ')}`);
  expect(collisions).toEqual([]);
});
