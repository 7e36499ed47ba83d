import type { ClientBase, QueryConfig } from 'pg';
import type { SessionRequirement } from './database-target';

/** What a server said about itself right after a connection was opened. */
export interface ServerRole {
  /** A standby (replaying WAL), or a primary still finishing its promotion. */
  inRecovery: boolean;
  /** `default_transaction_read_only` is on (how operators fence a server), or the server is a hot standby. */
  readOnly: boolean;
  /** The timeline the primary writes WAL on: it goes up by one at every promotion. Null when unknown. */
  timeline: number | null;
}

/**
 * One round trip. The timeline is read from the name of the current WAL file (its first eight hex digits), which
 * any role may ask for, unlike pg_control_checkpoint().
 */
const ROLE_SQL = `SELECT pg_is_in_recovery() AS in_recovery,
  current_setting('transaction_read_only') AS read_only,
  CASE WHEN pg_is_in_recovery() THEN NULL ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END AS wal_timeline`;

/** Servers that hide WAL functions (some managed services) still say whether they are a standby. */
const ROLE_WITHOUT_TIMELINE_SQL = `SELECT pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') AS read_only, NULL AS wal_timeline`;

/** SQLSTATEs of a server that refuses the WAL functions: undefined function, insufficient privilege, not supported. */
const NO_WAL_FUNCTIONS = new Set(['42883', '42501', '0A000']);

interface RoleRow {
  in_recovery: boolean;
  read_only: string;
  wal_timeline: string | null;
}

export async function readServerRole(client: ClientBase, timeoutMs: number): Promise<ServerRole> {
  let row: RoleRow;
  try {
    row = await queryRole(client, ROLE_SQL, timeoutMs);
  } catch (error) {
    if (!NO_WAL_FUNCTIONS.has((error as { code?: string }).code ?? '')) throw error;
    row = await queryRole(client, ROLE_WITHOUT_TIMELINE_SQL, timeoutMs);
  }
  return { inRecovery: row.in_recovery, readOnly: row.read_only === 'on', timeline: row.wal_timeline === null ? null : Number.parseInt(row.wal_timeline, 16) };
}

/** node-postgres honours a per-query `query_timeout` that its types leave out. */
async function queryRole(client: ClientBase, text: string, timeoutMs: number): Promise<RoleRow> {
  const query: QueryConfig & { query_timeout: number } = { text, query_timeout: timeoutMs };
  const { rows } = await client.query<RoleRow>(query);
  return rows[0]!;
}

/**
 * Why this server must not be used under `requirement`, or null when it may. `highestTimeline` is the highest
 * timeline this process has seen a primary on: a primary behind it is an old primary that was restarted after a
 * standby had been promoted (split brain), and writing there would write into a history that was abandoned.
 */
export function roleRefusal(role: ServerRole, requirement: SessionRequirement, highestTimeline: number): string | null {
  if (requirement === 'any') return null;
  if (role.inRecovery) return 'it is in recovery (a standby, or a promotion not yet finished)';
  if (requirement === 'read-write' && role.readOnly) return 'its transactions are read-only (default_transaction_read_only is on)';
  if (role.timeline !== null && role.timeline < highestTimeline) {
    return `it writes on timeline ${role.timeline}, but a primary on timeline ${highestTimeline} was seen: an old primary that came back after a failover`;
  }
  return null;
}
