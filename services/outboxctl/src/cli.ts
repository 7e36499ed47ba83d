import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { OutboxError } from '@outbox-relay/outbox';
import { ConfigError } from '@outbox-relay/runtime';
import { registerDlq } from './commands/dlq';
import { registerMigrate } from './commands/migrate';
import { registerReplay } from './commands/replay';
import { registerStatus } from './commands/status';
import { registerStepDown } from './commands/step-down';
import type { GlobalFlags } from './config';
import { CommandContext, type CliIo } from './context';
import { CliError, ExitCode } from './errors';

export type { CliIo, Writer } from './context';
export { ExitCode } from './errors';

/** outboxctl's version: its package.json's, which sits beside src/ (the tests) and dist/ (the binary). */
const VERSION = (JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

const CONFIGURATION_HELP = `
Configuration (a flag wins over its variable):
  --database-url <url>    DATABASE_URL    postgres:// URL (required by every command)
  --schema <name>         OUTBOX_SCHEMA   schema of the outbox tables (default outbox)
  --inbox-schema <name>   INBOX_SCHEMA    schema of the inbox tables (default inbox)
`;

export const EXIT_CODES_HELP = `
Exit codes:
  0  ok
  1  runtime or database error, or a dead letter that could not be replayed/discarded (already resolved, ...)
  2  usage or configuration error: nothing was attempted
  3  not found (unknown dead-letter id, no published events to replay)
  4  timed out (step-down: a leader did not release its lease within --timeout)
`;

/**
 * Runs outboxctl with `argv` as process.argv (node, script, ...arguments) and returns its exit code. Output goes
 * to `io`, configuration comes from the flags and `io.env` (process.env when omitted); nothing calls
 * process.exit, so tests run it in-process.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const program = new Command('outboxctl');
  const ctx = new CommandContext({ ...io, env: io.env ?? process.env }, () => program.opts<GlobalFlags>());
  let code: ExitCode = ExitCode.ok;
  const done = (result: ExitCode) => {
    code = result;
  };
  program
    .description('operations CLI for outbox-relay: status, dead letters, replays, leader step-down, migrations')
    .version(VERSION, '-V, --version', 'print the version of outboxctl')
    .option('--database-url <url>', 'postgres:// URL (env DATABASE_URL)')
    .option('--schema <name>', 'outbox schema (env OUTBOX_SCHEMA, default outbox)')
    .option('--inbox-schema <name>', 'inbox schema (env INBOX_SCHEMA, default inbox)')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', CONFIGURATION_HELP)
    .addHelpText('afterAll', EXIT_CODES_HELP)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(`outboxctl: ${text.replace(/^error: /, '')}`),
    })
    .showHelpAfterError('(add --help for usage)');
  registerStatus(program, ctx, done);
  registerDlq(program, ctx, done);
  registerReplay(program, ctx, done);
  registerStepDown(program, ctx, done);
  registerMigrate(program, ctx, done);

  try {
    await program.parseAsync(argv as string[], { from: 'node' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version requests are successes; every other commander error is a usage error.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? ExitCode.ok : ExitCode.usage;
    }
    const failure = describeFailure(error);
    io.stderr.write(`outboxctl: ${failure.message}\n`);
    return failure.code;
  }
}

function describeFailure(error: unknown): { message: string; code: ExitCode } {
  if (error instanceof CliError) return { message: error.message, code: error.exitCode };
  if (error instanceof ConfigError) return { message: error.message, code: ExitCode.usage };
  if (error instanceof OutboxError) return { message: error.message, code: ExitCode.failed };
  const pg = error as { code?: string; message?: string };
  if (typeof pg.code === 'string' && /^(ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EAI_AGAIN|ECONNRESET)$/.test(pg.code)) {
    return { message: `cannot reach the database (${pg.code}): ${pg.message ?? ''}`.trimEnd(), code: ExitCode.failed };
  }
  return { message: error instanceof Error ? error.message : String(error), code: ExitCode.failed };
}
