#!/usr/bin/env node
// `outbox-migrate` / `npm run migrate`: creates or upgrades the outbox tables. Its settings are environment
// variables (DATABASE_URL, OUTBOX_SCHEMA, OUTBOX_PARTITIONS, LOG_LEVEL); the only flag is --help. Anything else on
// the command line exits 2 before the database is touched: a flag it does not know (`--schema x`) would otherwise
// be ignored and the default schema migrated instead.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ConfigError, createLogger, parseEnv } from '@outbox-relay/runtime';
import { outboxEnvShape } from '../config';
import { migrateOutbox } from '../schema/migrate';
import { PostgresPrimary } from '../postgres/postgres-primary';

const USAGE = `Usage: outbox-migrate [--help]
       npm run migrate        (the same, from the repository root)

Creates or upgrades the outbox tables of one schema, and applies the partition count when OUTBOX_PARTITIONS is
set; prints {"schema", "ran", "partitions"} as one JSON line. Settings come from the environment:
  DATABASE_URL        postgres:// URL (required)
  OUTBOX_SCHEMA       schema of the outbox tables (default outbox)
  OUTBOX_PARTITIONS   partition count to apply, 1 to 1024 (default: keep; 1 for a new schema); a change waits
                      for the relays to publish every pending event
  OUTBOX_PARTITION_DRAIN_TIMEOUT_MS
                      how long that wait may last, 1 to 3600000 (default 30000); writers pause meanwhile, and
                      a change that runs out of it changes nothing and exits 1
  LOG_LEVEL           pino level of its log lines on stdout (default info)
e.g. OUTBOX_SCHEMA=orders_outbox OUTBOX_PARTITIONS=4 outbox-migrate

Exit status: 0 migrated or already up to date, 1 database error, 2 bad flag or variable (nothing attempted).
`;

const schema = z.object({
  DATABASE_URL: outboxEnvShape.DATABASE_URL,
  OUTBOX_SCHEMA: outboxEnvShape.OUTBOX_SCHEMA,
  OUTBOX_PARTITIONS: outboxEnvShape.OUTBOX_PARTITIONS,
  OUTBOX_PARTITION_DRAIN_TIMEOUT_MS: z.coerce.number().int().min(1).max(3_600_000).default(30_000),
  LOG_LEVEL: outboxEnvShape.LOG_LEVEL,
});

const ONLY_HELP = 'outbox-migrate takes only --help; its settings are environment variables (see --help)';

/** The command line: --help, or nothing. The message of a refusal names the argument. */
function readCommandLine(args: string[]): { help: boolean } | { refused: string } {
  // Lenient parsing, so every argument comes back as a token to judge here rather than as parseArgs' wording.
  const { tokens } = parseArgs({ args, options: { help: { type: 'boolean', short: 'h' } }, strict: false, allowPositionals: true, tokens: true });
  let help = false;
  for (const token of tokens) {
    if (token.kind === 'positional') return { refused: `unexpected argument "${token.value}": ${ONLY_HELP}` };
    if (token.kind !== 'option') continue;
    if (token.name !== 'help') return { refused: `unknown option "${token.rawName}": ${ONLY_HELP}` };
    if (token.value !== undefined) return { refused: `${token.rawName} takes no value (got "${token.value}")` };
    help = true;
  }
  return { help };
}

async function main(): Promise<number> {
  const commandLine = readCommandLine(process.argv.slice(2));
  if ('refused' in commandLine) {
    process.stderr.write(`outbox-migrate: ${commandLine.refused}\n`);
    return 2;
  }
  if (commandLine.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  let env;
  try {
    env = parseEnv(schema, process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`outbox-migrate: ${error.message}\n`);
    return 2;
  }
  const logger = createLogger('outbox-migrate', env.LOG_LEVEL);
  const pool = PostgresPrimary.fromUrl(env.DATABASE_URL).pool({ max: 1 });
  try {
    const result = await migrateOutbox({
      pool,
      schema: env.OUTBOX_SCHEMA,
      partitions: env.OUTBOX_PARTITIONS,
      drainTimeoutMs: env.OUTBOX_PARTITION_DRAIN_TIMEOUT_MS,
      logger,
    });
    process.stdout.write(`${JSON.stringify({ schema: env.OUTBOX_SCHEMA, ...result })}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`outbox-migrate: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await pool.end();
  }
}

main().then((code) => process.exit(code));
