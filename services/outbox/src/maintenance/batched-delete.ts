import type { Pool } from 'pg';

export interface BatchedDelete {
  /** Qualified table name (already checked by the caller's name helper). */
  table: string;
  /** Primary-key columns. */
  key: string[];
  /** Rows whose timestamp `column` is more than `ms` old (database clock) are deleted; NULL never is. */
  olderThan: { column: string; ms: number };
  /** Oldest first, along an index, so each batch finds its rows without a scan. Default: the `olderThan` column. */
  orderBy?: string;
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
      SELECT ${keys} FROM ${spec.table}
      WHERE ${spec.olderThan.column} < now() - make_interval(secs => $1::float8 / 1000)
      ORDER BY ${spec.orderBy ?? spec.olderThan.column} LIMIT $2 FOR UPDATE SKIP LOCKED)
    DELETE FROM ${spec.table} t USING doomed d WHERE ${match}`;
  const maxBatches = spec.maxBatches ?? Number.POSITIVE_INFINITY;
  let total = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const { rowCount } = await pool.query(sql, [spec.olderThan.ms, spec.batchSize]);
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < spec.batchSize) break;
  }
  return total;
}
