// Isolated Postgres schemas and JetStream streams per run (named after the run's tag), dropped by the clean-up.
import { onCleanup } from './cleanup.mjs';

/** A schema name for this run: `<tag>_<suffix>` (lower case, a valid outbox schema name). */
export function schemaName(ctx, suffix) {
  return `${ctx.tag}_${suffix}`;
}

/** Registers `schema` for dropping at clean-up (call before creating it, so a half-made schema is dropped too). */
export function dropSchemaLater(ctx, schema) {
  return onCleanup(`schema ${schema}`, () => ctx.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/** A stream name and subject prefix for this run, with the stream deleted at clean-up. */
export function streamFor(ctx, suffix) {
  const stream = `${ctx.tag}_${suffix}`.toUpperCase();
  const subjectPrefix = `${ctx.tag}${suffix}`.toLowerCase();
  const remove = onCleanup(`stream ${stream}`, () =>
    ctx.jsm.streams.delete(stream).catch((error) => {
      if (!/not found/i.test(String(error?.message))) throw error;
    }),
  );
  return { stream, subjectPrefix, remove };
}

/** Count of unpublished events in an outbox schema. */
export async function pendingCount(ctx, schema) {
  const { rows } = await ctx.pool.query(`SELECT count(*)::int AS n FROM "${schema}".outbox WHERE published_at IS NULL`);
  return rows[0].n;
}

/**
 * Writes out every dirty page now (CHECKPOINT), so that the writes of what ran before (another step, a backlog
 * fill) are not flushed during the seconds being measured next. Needs a superuser or pg_checkpoint; without
 * it the run goes on and says so once.
 */
export async function checkpoint(ctx) {
  try {
    await ctx.pool.query('CHECKPOINT');
  } catch (error) {
    if (!ctx.checkpointRefused) ctx.log(`  (CHECKPOINT refused: ${error.message}; steps may pay for earlier writes)`);
    ctx.checkpointRefused = true;
  }
}
