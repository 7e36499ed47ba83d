import { Pool } from 'pg';
import { migrateOutbox } from '@outbox-relay/outbox';
import { TEST_DATABASE_URL, uniqueName } from './env';

export interface TestSchema {
  pool: Pool;
  schema: string;
  /** Drops the schema and closes the pool. */
  drop(): Promise<void>;
}

/** A private schema (with the outbox migrated into it) for one test file, so files can run in parallel. */
export async function createTestSchema(prefix: string, options: { partitions?: number; max?: number } = {}): Promise<TestSchema> {
  const schema = uniqueName(prefix);
  const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: options.max ?? 10 });
  await migrateOutbox({ pool, schema, partitions: options.partitions });
  return {
    pool,
    schema,
    async drop() {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}
