import type { Pool, PoolClient } from 'pg';

/**
 * Runs `work` in a transaction on a client of `pool`: BEGIN … COMMIT, or ROLLBACK on any error (rethrown).
 * A client whose ROLLBACK fails is broken and is destroyed instead of going back to the pool.
 */
export async function withTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let result: T;
  try {
    await client.query('BEGIN');
    result = await work(client);
    await client.query('COMMIT');
  } catch (error) {
    const broken = await client.query('ROLLBACK').then(
      () => false,
      () => true,
    );
    client.release(broken);
    throw error;
  }
  client.release();
  return result;
}
