import { PostgresPrimary, type PrimaryPool } from '@outbox-relay/outbox';
import { PrivatePostgres } from './private-postgres';
import { TcpProxy } from './tcp-proxy';

/**
 * A private primary with one asynchronous streaming standby, for the failover tests: `hostList` names both the way
 * DATABASE_URL would, and `pool()` gives PrimaryPools on it that `destroy()` ends. With `proxied`, the standby
 * streams through a TcpProxy (`replication`), so that a test can cut replication and leave the standby behind.
 */
export class PrivatePostgresPair {
  private readonly pools: PrimaryPool[] = [];

  private constructor(
    readonly primary: PrivatePostgres,
    readonly standby: PrivatePostgres,
    readonly replication: TcpProxy | null,
  ) {}

  static async start(options: { proxied?: boolean; settings?: Record<string, string> } = {}): Promise<PrivatePostgresPair> {
    const primary = await PrivatePostgres.start(options.settings);
    let replication: TcpProxy | null = null;
    try {
      replication = options.proxied ? await TcpProxy.start(primary.port) : null;
      const standby = await PrivatePostgres.startStandby(primary, replication ? { via: replication.port } : {});
      return new PrivatePostgresPair(primary, standby, replication);
    } catch (error) {
      await replication?.close();
      await primary.destroy();
      throw error;
    }
  }

  /** Both servers, the primary first, as a libpq host list. */
  get hostList(): string {
    return `postgres://postgres@127.0.0.1:${this.primary.port},127.0.0.1:${this.standby.port}/postgres`;
  }

  /**
   * A pool that reaches whichever of the two is the primary; idle-client errors (a server killed) are ignored.
   * Pools of one process share a `target` (what it learnt: the server that answered last, the timeline).
   */
  pool(max = 4, target: PostgresPrimary = this.target()): PrimaryPool {
    const pool = target.pool({ max });
    pool.on('error', () => undefined);
    this.pools.push(pool);
    return pool;
  }

  target(): PostgresPrimary {
    return PostgresPrimary.fromUrl(this.hostList);
  }

  async destroy(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.end().catch(() => undefined)));
    await this.replication?.close();
    await this.standby.destroy();
    await this.primary.destroy();
  }
}
