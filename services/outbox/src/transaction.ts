import type { Pool, PoolClient } from 'pg';

/**
 * Runs `work` in a transaction on a client of `pool`: BEGIN … COMMIT, or ROLLBACK on any error (rethrown).
 * A client whose ROLLBACK fails is broken and is destroyed instead of going back to the pool.
 *
 * The session may die while the transaction is open (a Postgres restart, a failover, pg_terminate_backend, an
 * idle-in-transaction timeout). pg then emits 'error' on the client, and a checked-out client has no listener
 * of the pool's (pg-pool listens on idle clients only): unheard, the event kills the process. So a listener is
 * attached for as long as the client is out. On a connection error it:
 * - discards the client at once (`release(error)`: the pool ends it and opens a new one for the next caller),
 *   so every later query of `work` fails at once ("not queryable");
 * - makes the transaction reject with the connection error (the server's FATAL error when it sent one), whatever
 *   `work` threw because of it (an inbox must see a database failure here, not its handler's), and skips COMMIT
 *   if `work` returns anyway.
 * The promise settles when `work` does, not before: settling earlier would let the caller retry while this
 * `work` is still running (say, awaiting a payment provider), two executions at once.
 */
export async function withTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  let released = false;
  const release = (broken?: Error | boolean) => {
    if (released) return;
    released = true;
    client.release(broken);
  };
  const onError = (error: Error) => {
    lost ??= error;
    release(error);
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    if (lost) throw lost;
    await client.query('COMMIT');
    return result;
  } catch (error) {
    if (!lost) {
      const rolledBack = await client.query('ROLLBACK').then(
        () => true,
        () => false,
      );
      if (!rolledBack) release(true);
    }
    // A session that dies during a query (or COMMIT) sends that query the server's FATAL error (57P01 when
    // terminated) before the 'error' event: keep the server's own word when `work` threw it, even wrapped.
    throw lost ? (sessionEndError(error) ?? lost) : error;
  } finally {
    release();
    // A discarded client may still report its closing socket: it keeps the (now idle) listener and goes away.
    if (!lost) client.removeListener('error', onError);
  }
}

/** The server's error that ended the session (severity FATAL or PANIC) when `error` is one or wraps one. */
function sessionEndError(error: unknown): unknown {
  let e = error;
  for (let depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth++) {
    const { severity, cause } = e as { severity?: unknown; cause?: unknown };
    if (severity === 'FATAL' || severity === 'PANIC') return e;
    e = cause;
  }
  return undefined;
}
