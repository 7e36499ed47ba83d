import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Pool } from 'pg';
import { assertSchemaCurrent, Outbox, readPartitionCount, SchemaError } from '@outbox-relay/outbox';
import { createTestSchema, TEST_DATABASE_URL, uniqueName, startService, undoNewestOutboxMigration } from '@outbox-relay/test-support';

const PACKAGE_DIR = path.resolve(__dirname, '..');
/** The commands this package installs (package.json "bin"): name → file. */
const BINS = (JSON.parse(readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin;

/** Runs one of the package's commands as npm's bin link would, with exactly `env` (plus PATH); output once both pipes close. */
function runBin(name: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = BINS[name];
  if (file === undefined) throw new Error(`"${name}" is not a command of @outbox-relay/outbox (its bins: ${Object.keys(BINS).join(', ')})`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(PACKAGE_DIR, file), ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('outbox-migrate command', () => {
  const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
  const schema = uniqueName('migcli');
  /** Schemas the tests below create (or must leave uncreated), dropped at the end either way. */
  const scratch: string[] = [];
  const scratchSchema = (prefix: string) => {
    const name = uniqueName(prefix);
    scratch.push(name);
    return name;
  };
  const schemaExists = async (name: string) =>
    (await pool.query<{ present: boolean }>('SELECT to_regnamespace($1) IS NOT NULL AS present', [name])).rows[0]!.present;
  afterAll(async () => {
    for (const name of [schema, ...scratch]) await pool.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
    await pool.end();
  });

  it('creates the schema with the requested partitions and is idempotent', async () => {
    const env = { DATABASE_URL: TEST_DATABASE_URL, OUTBOX_SCHEMA: schema, OUTBOX_PARTITIONS: '3', LOG_LEVEL: 'silent' };
    expect(await startService('services/outbox/dist/cli/migrate.js', env).exited).toBe(0);
    expect(await readPartitionCount(pool, schema)).toBe(3);
    const again = startService('services/outbox/dist/cli/migrate.js', env);
    expect(await again.exited).toBe(0);
    expect(again.logs.at(-1)).toMatchObject({ schema, ran: [], partitions: 3 });
  });

  it('OUTBOX_PARTITION_DRAIN_TIMEOUT_MS bounds the wait of a partition change: with an event pending and no relay, it exits 1 once it runs out, changing nothing', async () => {
    const pending = scratchSchema('migcli_drain');
    const env = { DATABASE_URL: TEST_DATABASE_URL, OUTBOX_SCHEMA: pending, LOG_LEVEL: 'silent' };
    expect((await runBin('outbox-migrate', [], env)).code).toBe(0);
    const outbox = new Outbox({ pool, schema: pending });
    try {
      await outbox.transaction((tx) => outbox.enqueue(tx, { aggregateType: 'Order', aggregateId: 'o-1', eventType: 'OrderCreated', payload: {} }));
    } finally {
      await outbox.close();
    }
    // The default wait is 30 s; the message quotes the wait it was given, which proves the variable was read.
    const run = await runBin('outbox-migrate', [], { ...env, OUTBOX_PARTITIONS: '2', OUTBOX_PARTITION_DRAIN_TIMEOUT_MS: '200' });
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 1, stdout: '' });
    expect(run.stderr).toMatch(/cannot change partitions from 1 to 2: 1 events still unpublished after 200 ms/);
    expect(await readPartitionCount(pool, pending)).toBe(1);

    const refused = await runBin('outbox-migrate', [], { ...env, OUTBOX_PARTITIONS: '2', OUTBOX_PARTITION_DRAIN_TIMEOUT_MS: '0' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/OUTBOX_PARTITION_DRAIN_TIMEOUT_MS/);
  });

  it('exits 2 naming the bad variable', async () => {
    const proc = startService('services/outbox/dist/cli/migrate.js', { DATABASE_URL: 'mysql://nope', OUTBOX_SCHEMA: 'Bad-Name' });
    expect(await proc.exited).toBe(2);
    expect(proc.stderr()).toMatch(/DATABASE_URL: must be a postgres:\/\/ URL/);
    expect(proc.stderr()).toMatch(/OUTBOX_SCHEMA/);
  });

  it('--help prints its usage and exits 0 without migrating anything', async () => {
    const untouched = scratchSchema('migcli_help');
    for (const flag of ['--help', '-h']) {
      const { code, stdout, stderr } = await runBin('outbox-migrate', [flag], { DATABASE_URL: TEST_DATABASE_URL, OUTBOX_SCHEMA: untouched });
      expect({ flag, code, stderr }).toEqual({ flag, code: 0, stderr: '' });
      expect(stdout).toMatch(/^Usage: outbox-migrate \[--help\]/);
      for (const variable of ['DATABASE_URL', 'OUTBOX_SCHEMA', 'OUTBOX_PARTITIONS', 'LOG_LEVEL']) expect(stdout).toMatch(new RegExp(`^ {2}${variable} `, 'm'));
      expect(stdout).toMatch(/^ {2}OUTBOX_PARTITION_DRAIN_TIMEOUT_MS$/m);
      expect(stdout).toContain('Exit status: 0');
    }
    expect(await schemaExists(untouched)).toBe(false);
  });

  it('exits 2 naming an unknown flag or an extra argument, without migrating anything', async () => {
    const untouched = scratchSchema('migcli_flags');
    const env = { DATABASE_URL: TEST_DATABASE_URL, OUTBOX_SCHEMA: untouched };
    const cases: Array<[string[], string]> = [
      [['--schema', 'elsewhere'], 'unknown option "--schema"'],
      [['--partitions=4'], 'unknown option "--partitions"'],
      [['-x'], 'unknown option "-x"'],
      [['--help=yes'], '--help takes no value'],
      [['up'], 'unexpected argument "up"'],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await runBin('outbox-migrate', args, env);
      expect({ args, code, stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(stderr).toMatch(new RegExp(`^outbox-migrate: ${message.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}`));
    }
    expect(await schemaExists(untouched)).toBe(false);
  });

  it('every SchemaError that says to migrate names a command of this package, and running it as written fixes the schema', async () => {
    const neverMigrated = scratchSchema('migcli_none');
    const older = await createTestSchema('migcli_older', { max: 1 });
    scratch.push(older.schema);
    await older.pool.end();
    await undoNewestOutboxMigration(pool, older.schema);
    const event = { aggregateType: 'Order', aggregateId: 'o-1', eventType: 'OrderCreated', payload: {} };
    const enqueueInto = async (name: string) => {
      const outbox = new Outbox({ pool, schema: name });
      try {
        await outbox.transaction((tx) => outbox.enqueue(tx, event));
      } finally {
        await outbox.close();
      }
    };

    // Each way the library meets a schema that needs migrating: never migrated, or without its newest migration.
    const failures: Array<[string, string, () => Promise<unknown>]> = [
      ['readPartitionCount, never migrated', neverMigrated, () => readPartitionCount(pool, neverMigrated)],
      ['assertSchemaCurrent, never migrated', neverMigrated, () => assertSchemaCurrent(pool, neverMigrated)],
      ['enqueue, never migrated', neverMigrated, () => enqueueInto(neverMigrated)],
      ['assertSchemaCurrent, older', older.schema, () => assertSchemaCurrent(pool, older.schema)],
    ];
    const suggestions = new Map<string, string[]>();
    for (const [what, target, fail] of failures) {
      const error = await fail().then(
        () => null,
        (e: unknown) => e,
      );
      expect({ what, isSchemaError: error instanceof SchemaError }).toEqual({ what, isSchemaError: true });
      const commands = [...(error as Error).message.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      expect({ what, commands: commands.length }).toEqual({ what, commands: 1 });
      suggestions.set(target, [...(suggestions.get(target) ?? []), commands[0]!]);
    }

    for (const [target, commands] of suggestions) {
      expect(new Set(commands).size).toBe(1); // one remedy per schema, whichever call met it
      // `VAR=value ... command [arguments]`, as a shell runs it: the variables are the command's environment.
      const words = commands[0]!.split(' ');
      const assignments = words.filter((w) => /^[A-Z_]+=/.test(w));
      const [name, ...args] = words.slice(assignments.length);
      const env = Object.fromEntries(assignments.map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
      const run = await runBin(name!, args, { DATABASE_URL: TEST_DATABASE_URL, LOG_LEVEL: 'silent', ...env });
      expect({ command: commands[0], code: run.code, stderr: run.stderr }).toEqual({ command: commands[0], code: 0, stderr: '' });
      await expect(assertSchemaCurrent(pool, target)).resolves.toBeUndefined();
    }
  });
});
