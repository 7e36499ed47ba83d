import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Pool, PoolClient } from 'pg';
import type { RunnerOption } from 'node-pg-migrate';
import { performance } from 'node:perf_hooks';
import { Backoff, delay, type Logger } from '@outbox-relay/runtime';
import { SchemaError, SchemaNotMigratedError } from '../errors';
import { assertSchemaName, fnv1a32, outboxTables } from './names';
import { relaySignalPayload } from '../relay-signals';
import { withTransaction } from '../transaction';

/** Where the outbox's own SQL migrations live (shipped beside src/ and dist/). */
export const OUTBOX_MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'migrations');

export interface MigrationSet {
  /** Directory of node-pg-migrate files (`.sql` with `-- Up Migration` / `-- Down Migration`). */
  dir: string;
  /** Table (inside the schema) that records which migrations ran. */
  table: string;
}

export interface RunMigrationsOptions {
  pool: Pool;
  schema: string;
  sets: MigrationSet[];
  logger?: Logger;
}

/**
 * Applies migration sets to one schema, creating it if needed. A per-schema advisory lock serializes concurrent
 * runs (several replicas starting at once) while leaving other schemas free: node-pg-migrate's own lock is a
 * single database-wide key, which would make parallel test files and tenants fail with "already running".
 * Returns the names of the migrations that ran.
 */
export async function runMigrations(options: RunMigrationsOptions): Promise<string[]> {
  const schema = assertSchemaName(options.schema);
  const client = await options.pool.connect();
  const lockKey = fnv1a32(`migrate:${schema}`) | 0;
  try {
    await client.query('SELECT pg_advisory_lock($1, 0)', [lockKey]);
    const ran: string[] = [];
    for (const set of options.sets) {
      const options_: RunnerOption = {
        dbClient: client,
        dir: set.dir,
        migrationsTable: set.table,
        migrationsSchema: schema,
        schema,
        createSchema: true,
        direction: 'up',
        count: Infinity,
        noLock: true,
        checkOrder: true,
        log: (message: string) => options.logger?.debug({ schema, set: set.table }, message),
      };
      // Loaded on the first migration only: a relay that waits for the schema instead never loads it (about 5 MiB
      // of its idle RSS; BENCHMARKS.md, issue 17).
      const { runner } = require('node-pg-migrate') as typeof import('node-pg-migrate');
      const applied = await runner(options_);
      ran.push(...applied.map((m) => m.name));
    }
    await client.query('SET search_path TO DEFAULT');
    return ran;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1, 0)', [lockKey]).catch(() => undefined);
    client.release();
  }
}

export interface MigrateOutboxOptions {
  pool: Pool;
  schema: string;
  /** Partition count to configure; omitted keeps what the schema has (1 when new). */
  partitions?: number;
  /** How long a change of the count waits for the outbox to drain (see configurePartitions). */
  drainTimeoutMs?: number;
  logger?: Logger;
}

/** Creates or upgrades the outbox tables in `schema` and applies the partition count. */
export async function migrateOutbox(options: MigrateOutboxOptions): Promise<{ ran: string[]; partitions: number }> {
  const ran = await runMigrations({
    pool: options.pool,
    schema: options.schema,
    logger: options.logger,
    sets: [{ dir: OUTBOX_MIGRATIONS_DIR, table: 'outbox_migrations' }],
  });
  const partitions =
    options.partitions === undefined
      ? await readPartitionCount(options.pool, options.schema)
      : await configurePartitions(options.pool, options.schema, options.partitions, { drainTimeoutMs: options.drainTimeoutMs, logger: options.logger });
  options.logger?.info({ schema: options.schema, ran, partitions }, 'outbox schema migrated');
  return { ran, partitions };
}

/**
 * Waits until the outbox tables exist and have every migration this version needs (another process is expected
 * to migrate them), retrying with capped backoff on a missing or older schema or an unreachable database; returns
 * the partition count. Rejects only when
 * `signal` aborts. A relay started before the application's first migration thus waits instead of crash-looping.
 */
/** The names of the outbox migrations this library ships (file names without extension), oldest first. */
let shippedMigrations: string[] | null = null;
function outboxMigrationNames(): string[] {
  shippedMigrations ??= readdirSync(OUTBOX_MIGRATIONS_DIR)
    .filter((f) => /\.(sql|js|ts)$/.test(f))
    .map((f) => f.replace(/\.(sql|js|ts)$/, ''))
    .sort();
  return shippedMigrations;
}

/**
 * Throws SchemaNotMigratedError naming the migrations this library needs that `schema` has not run (a relay upgraded
 * before the schema was migrated: its statements would fail on every read). Also throws when the tables do not exist.
 */
export async function assertSchemaCurrent(pool: Pool | PoolClient, schema: string): Promise<void> {
  const t = outboxTables(schema);
  let ran: Set<string>;
  try {
    const { rows } = await pool.query<{ name: string }>(`SELECT name FROM "${t.schema}".outbox_migrations`);
    ran = new Set(rows.map((r) => r.name));
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') {
      throw new SchemaNotMigratedError(schema, 'outbox tables not found', { cause: error });
    }
    throw error;
  }
  const missing = outboxMigrationNames().filter((name) => !ran.has(name));
  if (missing.length > 0) {
    throw new SchemaNotMigratedError(schema, `the outbox schema is older than this version (missing migrations ${missing.join(', ')})`);
  }
}

export async function waitForSchema(
  pool: Pool,
  schema: string,
  options: { logger?: Logger; signal?: AbortSignal; backoffMinMs?: number; backoffMaxMs?: number } = {},
): Promise<number> {
  const backoff = new Backoff(options.backoffMinMs ?? 200, options.backoffMaxMs ?? 5000);
  for (;;) {
    try {
      const partitions = await readPartitionCount(pool, schema);
      await assertSchemaCurrent(pool, schema);
      return partitions;
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const wait = backoff.next();
      options.logger?.warn({ err: error, schema, retryInMs: wait, attempt: backoff.failures }, 'outbox schema not ready; waiting');
      await delay(wait, options.signal);
      if (options.signal?.aborted) throw error;
    }
  }
}

export async function readPartitionCount(pool: Pool | PoolClient, schema: string): Promise<number> {
  const t = outboxTables(schema);
  try {
    const { rows } = await pool.query<{ partitions: number }>(`SELECT partitions FROM ${t.settings}`);
    const count = rows[0]?.partitions;
    if (count === undefined) throw new SchemaError(schema, 'outbox_settings has no row; run the migrations');
    return count;
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') {
      throw new SchemaNotMigratedError(schema, 'outbox tables not found', { cause: error });
    }
    throw error;
  }
}

export interface ConfigurePartitionsOptions {
  /** How long to wait for the outbox to drain (relays keep publishing; writers wait). Default 30 s. */
  drainTimeoutMs?: number;
  /** How long to wait for the writers that hold the partition map to finish. Default 10 s. */
  lockTimeoutMs?: number;
  logger?: Logger;
}

/** SQL of the partition map lock's keys; the same expression as in outbox_writer_partitions(). */
const MAP_LOCK_KEYS = `hashtext('outbox_partition_map'), hashtext($1)`;

/**
 * Sets the partition count, safely under concurrent writers and running relays. Changing it moves aggregates
 * between partitions, so no event may be pending under the old count when the new one takes effect:
 * 1. take the partition map lock exclusively: every transaction that wrote events under the old count has ended
 *    (writers hold the lock shared until they commit), and writers that come now wait;
 * 2. wait until the relays have published every pending event (the writers' pause);
 * 3. change the count and the lease rows, and tell the relays (NOTIFY `partitions:<n>`), which take the new
 *    partitions up (or give the removed ones up) at once; then commit, and the writers go on with the new count.
 * Throws SchemaError, having changed nothing, when the writers do not let go within `lockTimeoutMs` or the
 * outbox does not drain within `drainTimeoutMs` (no relay running, or a backlog too large for the wait).
 */
export async function configurePartitions(
  pool: Pool,
  schema: string,
  partitions: number,
  options: ConfigurePartitionsOptions = {},
): Promise<number> {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) {
    throw new SchemaError(schema, `partitions must be an integer from 1 to 1024, got ${partitions}`);
  }
  const t = outboxTables(schema);
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  const lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
  return withTransaction(pool, async (client) => {
    const current = (await client.query<{ partitions: number }>(`SELECT partitions FROM ${t.settings}`)).rows[0]?.partitions;
    if (current !== partitions) {
      await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${lockTimeoutMs}ms`]);
      try {
        await client.query(`SELECT pg_advisory_xact_lock(${MAP_LOCK_KEYS})`, [schema]);
      } catch (error) {
        if ((error as { code?: string }).code !== '55P03') throw error;
        throw new SchemaError(schema, `cannot change partitions from ${current} to ${partitions}: writers held the partition map for more than ${lockTimeoutMs} ms; nothing changed, try again`, { cause: error });
      }
      const started = performance.now();
      for (;;) {
        const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t.pendingEvents}`);
        const pending = rows[0]?.n ?? 0;
        if (pending === 0) break;
        if (performance.now() - started > drainTimeoutMs) {
          throw new SchemaError(
            schema,
            `cannot change partitions from ${current} to ${partitions}: ${pending} events still unpublished after ${drainTimeoutMs} ms (are relays running?); nothing changed`,
          );
        }
        await delay(50);
      }
      await client.query(`UPDATE ${t.settings} SET partitions = $1`, [partitions]);
      await client.query(`DELETE FROM ${t.partitions} WHERE partition >= $1`, [partitions]);
      options.logger?.info({ schema, from: current, to: partitions, drainedInMs: Math.round(performance.now() - started) }, 'partition count changed');
    }
    await client.query(`INSERT INTO ${t.partitions} (partition) SELECT generate_series(0, $1 - 1) ON CONFLICT DO NOTHING`, [partitions]);
    if (current !== partitions) {
      // Everything is published and no writer is in flight (the map is held exclusively): every partition, old or
      // new, starts over at the sequence's head, with nothing skipped (migration 1733900000000).
      await client.query(
        `UPDATE ${t.partitions} SET read_upto = h.head, final_upto = h.head, skipped = '{}', ck_seq = NULL, ck_writers = NULL, ck_checked_at = NULL
         FROM (SELECT "${schema}".outbox_sequence_head() AS head) h`,
      );
    }
    if (current !== partitions) await client.query(`SELECT pg_notify($1, $2)`, [t.channel, relaySignalPayload({ kind: 'partitions', count: partitions })]);
    return partitions;
  });
}
