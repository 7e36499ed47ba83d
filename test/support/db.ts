import { readdirSync } from 'node:fs';
import { Pool } from 'pg';
import { runner } from 'node-pg-migrate';
import { migrateOutbox, OUTBOX_MIGRATIONS_DIR, outboxTables } from '@outbox-relay/outbox';
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

/** What countPendingEvents can ask: a pg Pool or client (`{ rows }`), or a PrivatePostgres (the rows themselves). */
export interface PendingEventsSource {
  query(text: string): Promise<unknown>;
}

/**
 * How many events of `schema`'s outbox are pending, asked through the outbox_pending view: the tests' one
 * definition of "pending" (migration 1733800000000), whatever way the relay records its progress.
 */
export async function countPendingEvents(db: PendingEventsSource, schema: string): Promise<number> {
  const result = await db.query(`SELECT count(*)::int AS n FROM ${outboxTables(schema).pendingEvents}`);
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<{ n: number }>;
  return rows[0]!.n;
}

/**
 * Takes `schema` back to what the previous version left: runs the Down part of the newest outbox migration.
 * Returns that migration's name (what a relay of this version must say is missing).
 */
export async function undoNewestOutboxMigration(pool: Pool, schema: string): Promise<string> {
  return (await undoNewestOutboxMigrations(pool, schema, 1))[0]!;
}

/**
 * Takes `schema` back to what the version before migration `name` left: runs the Down parts of `name` and of every
 * newer migration. Returns their names, newest first (so a test says which old version it stands for, not how
 * many migrations came after it).
 */
export async function undoOutboxMigrationsThrough(pool: Pool, schema: string, name: string): Promise<string[]> {
  const newer = readdirSync(OUTBOX_MIGRATIONS_DIR).filter((file) => file.endsWith('.sql') && file.replace(/\.sql$/, '') >= name);
  return undoNewestOutboxMigrations(pool, schema, newer.length);
}

/** Runs the Down parts of the `count` newest outbox migrations; returns their names, newest first. */
export async function undoNewestOutboxMigrations(pool: Pool, schema: string, count: number): Promise<string[]> {
  const client = await pool.connect();
  try {
    const undone = await runner({
      dbClient: client,
      dir: OUTBOX_MIGRATIONS_DIR,
      migrationsTable: 'outbox_migrations',
      migrationsSchema: schema,
      schema,
      direction: 'down',
      count,
      noLock: true,
      log: () => undefined,
    });
    await client.query('SET search_path TO DEFAULT');
    return undone.map((m) => m.name);
  } finally {
    client.release();
  }
}
