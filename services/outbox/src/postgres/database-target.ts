/**
 * Where a process finds the Postgres primary: one URL, or libpq's multi-host form
 * (`postgres://user@db-a:5432,db-b:5432/app?target_session_attrs=read-write`), which node-postgres does not
 * understand (brianc/node-postgres#1470, #2781). The URL is split here into one single-host URL per server, tried
 * in order by `PostgresPrimary`.
 */
import { DatabaseUrlError } from '../errors';

/** What a connection's server must be. libpq's `any` is allowed as an explicit opt-out; `standby` modes are not. */
export const SESSION_REQUIREMENTS = ['read-write', 'primary', 'any'] as const;
export type SessionRequirement = (typeof SESSION_REQUIREMENTS)[number];

/** One server of the list, with the URL that reaches only it. */
export interface DatabaseHost {
  /** `host:port` as written (or `default` for a URL without a host), for logs and errors. */
  readonly label: string;
  readonly connectionString: string;
}

export interface DatabaseTarget {
  readonly hosts: readonly DatabaseHost[];
  /**
   * `read-write` unless the URL says otherwise (libpq's default is `any`, but every process of this system writes:
   * a relay marks, a writer inserts), so a server that became a standby is never used.
   */
  readonly requirement: SessionRequirement;
  /** libpq's `connect_timeout` (seconds in the URL), per host; undefined when the URL sets none. */
  readonly connectTimeoutMs: number | undefined;
}

const URL_PARTS = /^(postgres(?:ql)?:\/\/)([^/?#]*)(.*)$/s;

export function parseDatabaseTarget(url: string): DatabaseTarget {
  const parts = URL_PARTS.exec(url);
  if (!parts) throw new DatabaseUrlError('must be a postgres:// URL (or postgresql://)');
  const [, scheme, authority, rest] = parts as unknown as [string, string, string, string];
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hostList = authority.slice(at + 1);
  const query = new URLSearchParams(rest.split('#')[0]!.split('?')[1] ?? '');
  if ((query.get('host') ?? '').includes(',')) {
    throw new DatabaseUrlError('lists several hosts in ?host=: write them after the "@" instead (postgres://user@db-a:5432,db-b:5432/app)');
  }
  const written = hostList.split(',');
  if (written.length > 1 && written.some((h) => h.trim() === '')) throw new DatabaseUrlError('has an empty entry in its host list');
  const hosts = written.map((h) => {
    const label = hostLabel(h);
    return { label, connectionString: written.length === 1 ? url : `${scheme}${userinfo}${h}${rest}` };
  });
  return { hosts, requirement: sessionRequirement(query.get('target_session_attrs')), connectTimeoutMs: connectTimeout(query.get('connect_timeout')) };
}

/** `host`, `host:port`, `[v6]` or `[v6]:port`; the port, when given, must be a port number. */
function hostLabel(written: string): string {
  if (written === '') return 'the default host';
  const match = /^(\[[^\]]+\]|[^:[\]]+)(?::(.*))?$/.exec(written);
  if (!match) throw new DatabaseUrlError(`has a host entry that is not host or host:port ("${written.slice(0, 60)}")`);
  const [, host, port] = match;
  if (port === undefined) return `${host}:5432`;
  const n = Number(port);
  if (!/^\d+$/.test(port) || n < 1 || n > 65_535) throw new DatabaseUrlError(`has host ${host} with port "${port.slice(0, 20)}": must be a number from 1 to 65535`);
  return `${host}:${n}`;
}

function sessionRequirement(value: string | null): SessionRequirement {
  if (value === null || value === '') return 'read-write';
  if ((SESSION_REQUIREMENTS as readonly string[]).includes(value)) return value as SessionRequirement;
  throw new DatabaseUrlError(`has target_session_attrs=${value.slice(0, 30)}: must be one of ${SESSION_REQUIREMENTS.join(', ')} (this process writes, so it cannot use a standby)`);
}

function connectTimeout(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw new DatabaseUrlError(`has connect_timeout=${value.slice(0, 20)}: must be whole seconds`);
  // libpq: 0 means wait forever, and values below 2 are raised to 2.
  const seconds = Number(value);
  return seconds === 0 ? undefined : Math.max(2, seconds) * 1000;
}
