import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ctl } from './support';
import { TEST_DATABASE_URL } from '@outbox-relay/test-support';

const PACKAGE_VERSION = (JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
/** What outboxctl says a schema name must be (the runtime's SQL_IDENTIFIER rule). */
const SCHEMA_RULE = 'must be a lower-case SQL identifier of at most 48 characters: a-z or _, then a-z, 0-9 or _';
/** Wording of zod's own messages and of URL parsing, which must not reach a user of outboxctl. */
const VALIDATOR_WORDING = /Invalid|expected|received|regex|pattern|too_small|too_big|ZodError/;

// Usage and configuration errors are found before any database work, so most of these need no schema.
const env = { DATABASE_URL: TEST_DATABASE_URL };

describe('outboxctl usage and configuration errors', () => {
  it('documents every command, the configuration and the exit codes in --help (exit 0)', async () => {
    const { code, stdout } = await ctl(['--help'], {});
    expect(code).toBe(0);
    for (const command of ['status', 'dlq', 'replay', 'step-down', 'migrate']) expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    for (const setting of ['--database-url', 'DATABASE_URL', '--schema', 'OUTBOX_SCHEMA', '--inbox-schema', 'INBOX_SCHEMA']) {
      expect(stdout).toContain(setting);
    }
    expect(stdout).toMatch(/^ {2}0 {2}ok$/m);
    expect(stdout).toMatch(/^ {2}1 {2}runtime or database error/m);
    expect(stdout).toMatch(/^ {2}2 {2}usage or configuration error/m);
    expect(stdout).toMatch(/^ {2}3 {2}not found/m);
    expect(stdout).toMatch(/^ {2}4 {2}timed out/m);
  });

  it('prints the package version for --version and -V (exit 0)', async () => {
    for (const flag of ['--version', '-V']) {
      const { code, stdout, stderr } = await ctl([flag], {});
      expect({ flag, code, stdout, stderr }).toEqual({ flag, code: 0, stdout: `${PACKAGE_VERSION}\n`, stderr: '' });
    }
  });

  it('shows the exit codes and global options in a sub-command help too', async () => {
    const { code, stdout } = await ctl(['dlq', 'replay', '--help'], {});
    expect(code).toBe(0);
    expect(stdout).toContain('outboxctl dlq replay');
    expect(stdout).toContain('--all');
    expect(stdout).toContain('--database-url');
    expect(stdout).toMatch(/^ {2}4 {2}timed out/m);
  });

  it('a missing database URL exits 2 naming --database-url and DATABASE_URL', async () => {
    for (const environment of [{}, { DATABASE_URL: '' }]) {
      const { code, stdout, stderr } = await ctl(['status'], environment);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain('--database-url');
      expect(stderr).toContain('DATABASE_URL');
      expect(stderr).toMatch(/is required/);
    }
  });

  it('an invalid database URL exits 2 naming flag and variable without echoing the URL', async () => {
    const viaEnv = await ctl(['status'], { DATABASE_URL: 'mysql://user:secret@db/x' });
    expect(viaEnv.code).toBe(2);
    expect(viaEnv.stderr).toContain('--database-url / DATABASE_URL');
    expect(viaEnv.stderr).toContain('postgres://');
    expect(viaEnv.stderr).not.toContain('secret');
    // The flag wins over a valid variable.
    const viaFlag = await ctl(['status', '--database-url', 'http://nope'], env);
    expect(viaFlag.code).toBe(2);
    expect(viaFlag.stderr).toContain('--database-url / DATABASE_URL');
  });

  it('invalid schema names exit 2 naming the flag and the variable', async () => {
    const outbox = await ctl(['status', '--schema', 'Bad-Name'], env);
    expect(outbox.code).toBe(2);
    expect(outbox.stderr).toContain('--schema / OUTBOX_SCHEMA');
    expect(outbox.stderr).toContain('"Bad-Name"');
    const inbox = await ctl(['dlq', 'list'], { ...env, INBOX_SCHEMA: 'x;drop' });
    expect(inbox.code).toBe(2);
    expect(inbox.stderr).toContain('--inbox-schema / INBOX_SCHEMA');
  });

  it('says what each setting must be and where the bad value came from, in its own words (exit 2)', async () => {
    const long = 'a'.repeat(49);
    const cases: Array<[string[], Record<string, string>, string]> = [
      [['status', '--schema', 'Bad-Name'], env, `--schema / OUTBOX_SCHEMA: ${SCHEMA_RULE} (got "Bad-Name" from --schema)`],
      [['status'], { ...env, OUTBOX_SCHEMA: long }, `--schema / OUTBOX_SCHEMA: ${SCHEMA_RULE} (got "${long}" from OUTBOX_SCHEMA)`],
      [['dlq', 'list'], { ...env, INBOX_SCHEMA: 'x;drop' }, `--inbox-schema / INBOX_SCHEMA: ${SCHEMA_RULE} (got "x;drop" from INBOX_SCHEMA)`],
      // An empty flag was typed (`--schema "$UNSET"`): refused, not replaced by the default schema.
      [['status', '--schema', ''], env, `--schema / OUTBOX_SCHEMA: ${SCHEMA_RULE} (--schema was given an empty value)`],
      [
        ['status', '--database-url', 'mysql://user:secret@db/x'],
        env,
        '--database-url / DATABASE_URL: must be a postgres:// URL, e.g. postgres://user:password@host:5432/database ' +
          '(the value of --database-url is not shown: it may hold a password)',
      ],
      // Starts like a postgres:// URL, but pg cannot read it (the port): refused before any connection is tried.
      [
        ['status'],
        { DATABASE_URL: 'postgres://user:secret@db:fivefour/x' },
        '--database-url / DATABASE_URL: must be a postgres:// URL, e.g. postgres://user:password@host:5432/database ' +
          '(the value of DATABASE_URL is not shown: it may hold a password)',
      ],
    ];
    for (const [args, environment, message] of cases) {
      const { code, stdout, stderr } = await ctl(args, environment);
      expect({ args, code, stdout, stderr }).toEqual({ args, code: 2, stdout: '', stderr: `outboxctl: ${message}\n` });
      expect(stderr).not.toMatch(VALIDATOR_WORDING);
      expect(stderr).not.toContain('secret');
    }
  });

  it('refuses dead-letter ids without a kind prefix (exit 2) and names the accepted forms', async () => {
    for (const args of [['dlq', 'show', '12'], ['dlq', 'replay', 'r1', '7'], ['dlq', 'discard', 'x7'], ['dlq', 'show', 'r0']]) {
      const { code, stderr } = await ctl(args, env);
      expect(code).toBe(2);
      expect(stderr).toContain('invalid dead-letter id');
      expect(stderr).toContain('r<n> for a relay dead letter or c<n> for a consumer dead letter');
    }
    expect((await ctl(['dlq', 'show', '12'], env)).stderr).toContain('bare number is ambiguous');
  });

  it('refuses a bad --since naming the flag (exit 2)', async () => {
    for (const since of ['yesterday', '2026-02-30', '2026-11-23T10:00', '2026-11-23 10:00Z', '']) {
      const { code, stderr } = await ctl(['replay', '--aggregate', 'a1', '--since', since], env);
      expect(code).toBe(2);
      expect(stderr).toContain("option '--since <time>' argument");
      expect(stderr).toContain('ISO 8601');
    }
  });

  it('refuses bad numbers naming --partition, --timeout, --partitions, --limit (exit 2)', async () => {
    const cases: Array<[string[], string]> = [
      [['step-down', '--partition', 'x'], '--partition <n>'],
      [['step-down', '--partition', '-1'], '--partition <n>'],
      [['step-down', '--partition', '0,1.5'], '--partition <n>'],
      [['step-down', '--timeout', '0'], '--timeout <ms>'],
      [['migrate', '--partitions', '0'], '--partitions <n>'],
      [['migrate', '--partitions', '2000'], '--partitions <n>'],
      [['dlq', 'list', '--limit', 'ten'], '--limit <n>'],
    ];
    for (const [args, flag] of cases) {
      const { code, stderr } = await ctl(args, env);
      expect({ args, code }).toEqual({ args, code: 2 });
      expect(stderr).toContain(`option '${flag}' argument`);
    }
  });

  it('rejects contradictory or missing selections (exit 2)', async () => {
    const cases: Array<[string[], string]> = [
      [['dlq', 'replay'], 'give one or more dead-letter ids'],
      [['dlq', 'replay', 'r1', '--all'], 'not both'],
      [['dlq', 'replay', 'r1', '--consumer', 'payments'], 'only apply with --all'],
      [['dlq', 'list', '--relay', '--consumer', 'payments'], "option '--relay' cannot be used with option '--consumer <name>'"],
      [['dlq', 'discard'], "missing required argument 'ids'"],
      [['replay'], "'--aggregate <id>'"],
      [['frobnicate'], "unknown command 'frobnicate'"],
      [['status', '--verbose'], "unknown option '--verbose'"],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await ctl(args, env);
      expect({ args, code }).toEqual({ args, code: 2 });
      expect(stderr).toContain(message);
    }
    // A group without its sub-command prints its help as the error.
    const group = await ctl(['dlq'], env);
    expect(group.code).toBe(2);
    expect(group.stderr).toContain('Usage: outboxctl dlq');
  });

  it('a database it cannot reach is a runtime error (exit 1)', async () => {
    const { code, stderr } = await ctl(['status', '--database-url', 'postgres://postgres@127.0.0.1:1/test'], {});
    expect(code).toBe(1);
    expect(stderr).toMatch(/^outboxctl: cannot reach the database \(ECONNREFUSED\)/);
  });
});
