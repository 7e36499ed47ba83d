// Isolated Postgres schemas and JetStream streams per run (named after the run's tag), dropped by the clean-up.
import { outboxTables } from '@outbox-relay/outbox';
import { errorMessage, onCleanup } from '../../lib/cleanup';
import type { BenchContext } from './context';

/** A schema name for this run: `<tag>_<suffix>` (lower case, a valid outbox schema name). */
export function schemaName(ctx: BenchContext, suffix: string): string {
  return `${ctx.tag}_${suffix}`;
}

/** Registers `schema` for dropping at clean-up (call before creating it, so a half-made schema is dropped too). */
export function dropSchemaLater(ctx: BenchContext, schema: string): () => Promise<void> {
  return onCleanup(`schema ${schema}`, () => ctx.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

export interface RunStream {
  stream: string;
  subjectPrefix: string;
  /** Deletes it now (and not again at clean-up). */
  remove(): Promise<void>;
}

/** A stream name and subject prefix for this run, with the stream deleted at clean-up. */
export function streamFor(ctx: BenchContext, suffix: string): RunStream {
  const stream = `${ctx.tag}_${suffix}`.toUpperCase();
  const subjectPrefix = `${ctx.tag}${suffix}`.toLowerCase();
  const remove = onCleanup(`stream ${stream}`, () =>
    ctx.jsm.streams.delete(stream).catch((error: unknown) => {
      if (!/not found/i.test(errorMessage(error))) throw error;
    }),
  );
  return { stream, subjectPrefix, remove };
}

/** Count of unpublished events in an outbox schema. */
export async function pendingCount(ctx: BenchContext, schema: string): Promise<number> {
  const { rows } = await ctx.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${outboxTables(schema).pendingEvents}`);
  return rows[0]!.n;
}

/**
 * Writes out every dirty page now (CHECKPOINT), so that the writes of what ran before (another step, a backlog
 * fill) are not flushed during the seconds being measured next. Needs a superuser or pg_checkpoint; without
 * it the run goes on and says so once.
 */
export async function checkpoint(ctx: BenchContext): Promise<void> {
  try {
    await ctx.pool.query('CHECKPOINT');
  } catch (error) {
    if (!ctx.checkpointRefused) ctx.log(`  (CHECKPOINT refused: ${errorMessage(error)}; steps may pay for earlier writes)`);
    ctx.checkpointRefused = true;
  }
}
