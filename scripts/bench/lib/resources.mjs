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
