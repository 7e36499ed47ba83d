import { Client, Pool, type ClientBase, type ClientConfig, type PoolClient, type PoolConfig } from 'pg';
import { NoPrimaryError, NotPrimaryError } from '../errors';
import { parseDatabaseTarget, type DatabaseHost, type DatabaseTarget } from './database-target';
import { readServerRole, roleRefusal } from './server-role';

/** How long the role check may take when the URL sets no connect_timeout. */
const DEFAULT_CHECK_TIMEOUT_MS = 10_000;

/** Pool settings other than where to connect, which the host list decides. */
export type PrimaryPoolConfig = Omit<PoolConfig, 'connectionString' | 'host' | 'port' | 'Client' | 'onConnect'>;

/**
 * The Postgres primary among a list of servers (libpq's multi-host URL, see database-target.ts), and the pools and
 * connections that may only ever reach it. Every new connection is checked before it is used: a standby, a
 * read-only server or an old primary that came back on an earlier timeline is refused and the next server is
 * tried. A server that becomes a standby or is restarted drops its connections, so checking each new connection is
 * enough to keep a process off it. Pools and clients made from one `PostgresPrimary` share what it has learnt:
 * the server that answered last is tried first, and the highest timeline seen fences old primaries.
 */
export class PostgresPrimary {
  private preferred = 0;
  private highestTimeline = 0;

  constructor(readonly target: DatabaseTarget) {}

  static fromUrl(url: string): PostgresPrimary {
    return new PostgresPrimary(parseDatabaseTarget(url));
  }

  /** A pool whose every connection reaches the primary. `connect()` and `query()` try each server at most once. */
  pool(config: PrimaryPoolConfig = {}): PrimaryPool {
    return new PrimaryPool(this, config);
  }

  /** A connection of its own (LISTEN, a migration, a CLI), to the primary. */
  async connectClient(config: Omit<ClientConfig, 'connectionString' | 'host' | 'port'> = {}): Promise<Client> {
    return this.tryEachHost(async (host) => {
      const client = await openClient(this.clientConfig(host, config)).catch((error: unknown) => {
        throw new HostAttemptError(host, error);
      });
      // Listened to until the caller has it: the server may die right after answering the check, and its FATAL
      // message, parsed in the same read as the answer, is emitted as 'error' before the caller can listen.
      return preparedClient(client, () => this.check(client, host));
    });
  }

  /** The single-host settings of `host`, with libpq's connect_timeout applied per server. */
  clientConfig(host: DatabaseHost, config: ClientConfig): ClientConfig {
    const timeout = this.target.connectTimeoutMs;
    return { ...config, connectionString: host.connectionString, ...(timeout !== undefined && { connectionTimeoutMillis: timeout }) };
  }

  /** The server to try next. */
  currentHost(): DatabaseHost {
    return this.target.hosts[this.preferred % this.target.hosts.length]!;
  }

  /** Throws NotPrimaryError when the server `client` reached may not be used; remembers its timeline otherwise. */
  async check(client: ClientBase, host: DatabaseHost): Promise<void> {
    if (this.target.requirement === 'any') return;
    const role = await readServerRole(client, this.target.connectTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS).catch((error: unknown) => {
      throw new HostAttemptError(host, error);
    });
    const refusal = roleRefusal(role, this.target.requirement, this.highestTimeline);
    if (refusal !== null) throw new HostAttemptError(host, new NotPrimaryError(host.label, refusal));
    if (role.timeline !== null) this.highestTimeline = Math.max(this.highestTimeline, role.timeline);
  }

  /**
   * Runs `attempt` against the current server, then the next ones, until one succeeds or each was tried once.
   * Only failures of a server (HostAttemptError) move on; anything else is the caller's error. With one server, its
   * own error is thrown as it was (a single-host URL behaves as before); with several, a NoPrimaryError lists them.
   */
  async tryEachHost<T>(attempt: (host: DatabaseHost) => Promise<T>): Promise<T> {
    const failures: HostAttemptError[] = [];
    for (let tried = 0; tried < this.target.hosts.length; tried++) {
      const host = this.currentHost();
      try {
        return await attempt(host);
      } catch (error) {
        const failure = hostFailure(error);
        if (failure === null) throw error;
        failures.push(failure);
        this.moveOn(failure.host);
      }
    }
    if (failures.length === 1) throw failures[0]!.cause;
    throw new NoPrimaryError(
      failures.map((f) => ({ host: f.host.label, error: errorText(f.cause) })),
      { cause: failures.at(-1)!.cause },
    );
  }

  /** `host` failed: the next attempt starts at the server after it (unless another attempt already moved on). */
  private moveOn(host: DatabaseHost): void {
    if (this.currentHost() === host) this.preferred = (this.target.hosts.indexOf(host) + 1) % this.target.hosts.length;
  }
}

/**
 * A connected Client of its own. Until the caller attaches its own listener, an error the connection reports (after
 * a failed connect(), or a FATAL from the server) must not end the process, so one is attached while connecting.
 */
export async function openClient(config: ClientConfig): Promise<Client> {
  const client = new Client(config);
  return preparedClient(client, () => client.connect());
}

/**
 * `client` once `prepare` (connecting, checking) succeeded, with an 'error' listener until then, so that an error
 * the connection reports meanwhile cannot end the process; ended when `prepare` fails.
 */
async function preparedClient(client: Client, prepare: () => Promise<unknown>): Promise<Client> {
  const ignore = () => undefined;
  client.on('error', ignore);
  try {
    await prepare();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  } finally {
    client.removeListener('error', ignore);
  }
}

/** A failure of one server (it did not answer, or is not the primary), as opposed to a failure of the caller's work. */
class HostAttemptError extends Error {
  constructor(
    readonly host: DatabaseHost,
    override readonly cause: unknown,
  ) {
    super(`${host.label}: ${errorText(cause)}`);
  }
}

/** The server failure behind `error`: pg-pool wraps a connection timeout in an Error of its own, with the cause. */
function hostFailure(error: unknown): HostAttemptError | null {
  if (error instanceof HostAttemptError) return error;
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause instanceof HostAttemptError ? cause : null;
}

function errorText(error: unknown): string {
  if (error instanceof NotPrimaryError) return `not the primary: ${error.reason}`;
  return error instanceof Error ? error.message || String((error as { code?: string }).code ?? error.name) : String(error);
}

/**
 * A node-postgres Pool that reaches only the primary. Each client it creates connects to the server its
 * `PostgresPrimary` prefers at that moment and is checked (pg-pool's `onConnect`) before it is handed out; a client
 * that fails either way makes `connect()` move on to the next server. Drop-in for `Pool`: `query()` goes through
 * `connect()`.
 */
export class PrimaryPool extends Pool {
  constructor(
    readonly primary: PostgresPrimary,
    config: PrimaryPoolConfig,
  ) {
    super({ ...config, Client: routedClientClass(primary, config), onConnect: (client) => primary.check(client, (client as RoutedClient).databaseHost) });
  }

  override connect(): Promise<PoolClient>;
  override connect(callback: (err: Error | undefined, client: PoolClient | undefined, done: (release?: unknown) => void) => void): void;
  override connect(
    callback?: (err: Error | undefined, client: PoolClient | undefined, done: (release?: unknown) => void) => void,
  ): Promise<PoolClient> | void {
    const connected = this.primary.tryEachHost(() => super.connect());
    if (!callback) return connected;
    connected.then(
      (client) => callback(undefined, client, (release?: unknown) => client.release(release as Error | boolean | undefined)),
      (error: Error) => callback(error, undefined, () => undefined),
    );
  }
}

interface RoutedClient extends Client {
  readonly databaseHost: DatabaseHost;
}

/**
 * The Client class a PrimaryPool constructs: it connects to the server preferred when it is created, and reports
 * a failure to connect as that server's (HostAttemptError), so that the pool moves on instead of failing.
 */
function routedClientClass(primary: PostgresPrimary, config: PrimaryPoolConfig): new () => RoutedClient {
  return class extends Client implements RoutedClient {
    readonly databaseHost: DatabaseHost;
    constructor() {
      const host = primary.currentHost();
      super(primary.clientConfig(host, config));
      this.databaseHost = host;
      // pg-pool listens for a client's 'error' only while it is idle. Checked out and between queries (a caller's
      // other work, a query just answered and not yet released), the server's FATAL when it dies or ends the
      // backend is emitted with nobody listening, which ends the process. Kept quiet here: the pool drops an idle
      // client that failed, and a checked-out one refuses its next query, whose caller hears of it.
      this.on('error', () => undefined);
    }

    override connect(): Promise<Client>;
    override connect(callback: ((err: Error) => void) | ((err: null, c: Client) => void)): void;
    override connect(callback?: ((err: Error) => void) | ((err: null, c: Client) => void)): Promise<Client> | void {
      if (!callback) return super.connect().catch((error: unknown) => Promise.reject(new HostAttemptError(this.databaseHost, error)));
      // pg-pool passes `(err) => ...`; both shapes take an error or null first.
      const done = callback as (err: Error | null, c?: Client) => void;
      super.connect((error: Error | null) => (error ? done(new HostAttemptError(this.databaseHost, error)) : done(null, this)));
    }
  };
}
