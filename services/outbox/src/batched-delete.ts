import type { Pool } from 'pg';

export interface BatchedDelete {
  /** Qualified table name (already checked by the caller's name helper). */
  table: string;
  /** Primary-key columns. */
  key: string[];
  /** Condition on the rows to delete; `$1..$n` refer to `params`. */
  where: string;
  /** Oldest first, along an index, so each batch finds its rows without a scan. */
  orderBy: string;
  params: unknown[];
  batchSize: number;
  /** Stop after this many batches even if more rows qualify (the next sweep continues). */
  maxBatches?: number;
}

/**
 * Deletes qualifying rows `batchSize` at a time, each batch its own statement (so its own short transaction and
 * locks), skipping rows another transaction holds. Writers and the relay are never blocked for long, and a huge
 * backlog of expired rows is worked off over several statements instead of one long one. Returns rows deleted.
 */
export async function deleteInBatches(pool: Pool, spec: BatchedDelete): Promise<number> {
  const keys = spec.key.join(', ');
  const match = spec.key.map((k) => `t.${k} = d.${k}`).join(' AND ');
  const sql = `
    WITH doomed AS (
      SELECT ${keys} FROM ${spec.table} WHERE ${spec.where}
      ORDER BY ${spec.orderBy} LIMIT $${spec.params.length + 1} FOR UPDATE SKIP LOCKED)
    DELETE FROM ${spec.table} t USING doomed d WHERE ${match}`;
  const maxBatches = spec.maxBatches ?? Number.POSITIVE_INFINITY;
  let total = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const { rowCount } = await pool.query(sql, [...spec.params, spec.batchSize]);
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < spec.batchSize) break;
  }
  return total;
}
