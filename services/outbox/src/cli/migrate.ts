#!/usr/bin/env node
// `npm run migrate` / `outbox-migrate`: creates or upgrades the outbox tables. Reads DATABASE_URL, OUTBOX_SCHEMA
// and OUTBOX_PARTITIONS; exits 2 naming a bad variable, 1 on a database error.
import { Pool } from 'pg';
import { z } from 'zod';
import { ConfigError, createLogger, parseEnv } from '@outbox-relay/runtime';
import { outboxEnvShape } from '../config';
import { migrateOutbox } from '../schema/migrate';

const schema = z.object({
  DATABASE_URL: outboxEnvShape.DATABASE_URL,
  OUTBOX_SCHEMA: outboxEnvShape.OUTBOX_SCHEMA,
  OUTBOX_PARTITIONS: outboxEnvShape.OUTBOX_PARTITIONS,
  LOG_LEVEL: outboxEnvShape.LOG_LEVEL,
});

async function main(): Promise<number> {
  let env;
  try {
    env = parseEnv(schema, process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`outbox-migrate: ${error.message}\n`);
    return 2;
  }
  const logger = createLogger('outbox-migrate', env.LOG_LEVEL);
  const pool = new Pool({ connectionString: env.DATABASE_URL, max: 1 });
  try {
    const result = await migrateOutbox({ pool, schema: env.OUTBOX_SCHEMA, partitions: env.OUTBOX_PARTITIONS, logger });
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
