import type { Pool } from 'pg';
import type { Logger } from '@outbox-relay/runtime';

/** A WAL position ('16/B374D848') as a number that orders like the position. */
export function walPosition(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

/** What the gate reports in the relay's status. */
export interface StandbyFlushStatus {
  /** Standbys that must have flushed an event's commit before it is published. */
  required: number;
  /** Reads waiting for them now. */
  waiting: number;
  /** The longest any of them has waited so far (ms), 0 when none waits. */
  waitingForMs: number;
}

interface Waiter {
  position: bigint;
  since: number;
  resolve: (reached: boolean) => void;
  stillWanted: () => boolean;
}

/**
 * Between looks: 1 ms while the oldest read has waited less than QUICK_LOOKS_FOR_MS (a standby on the same network
 * confirms in about a millisecond, and a look is one short query), then doubling up to SLOWEST_LOOK_MS while nothing
 * moves (no standby connected: the relay must not hammer the server). Progress starts over at 1 ms.
 */
const FIRST_LOOK_MS = 1;
const QUICK_LOOKS_FOR_MS = 50;
const SLOWEST_LOOK_MS = 100;
/** A wait this long is worth a warning: no standby is connected, or one is far behind. */
const WARN_AFTER_MS = 5000;

/**
 * No phantom events (README, "Postgres failover"): with asynchronous replication a commit the primary acknowledged
 * can be missing on the standby that is promoted when the primary dies. An event published before its commit
 * reached a standby can thus name an order that, after the failover, never existed. The gate holds a read batch
 * until `required` standbys have flushed WAL up to the position the read was made at (any commit the read could
 * see lies before it), per pg_stat_replication. One poller serves every partition of the relay.
 *
 * The price: each batch waits for the standbys' flush (a round trip to them, plus up to a look's interval), and
 * with fewer than `required` standbys connected nothing is published at all, which is the promise. The relay's
 * role must see the standbys' positions (pg_monitor, or pg_read_all_stats).
 */
export class StandbyFlushGate {
  private readonly waiters = new Set<Waiter>();
  private looking: Promise<void> | null = null;
  private warned = false;

  constructor(
    private readonly pool: Pool,
    readonly required: number,
    private readonly logger?: Logger,
  ) {}

  /**
   * Resolves true once `required` standbys have flushed up to `lsn`; false as soon as `stillWanted` says the
   * caller no longer needs it (its lease ended, the relay stops).
   */
  reached(lsn: string, stillWanted: () => boolean): Promise<boolean> {
    return new Promise((resolve) => {
      this.waiters.add({ position: walPosition(lsn), since: performance.now(), resolve, stillWanted });
      this.looking ??= this.look().finally(() => {
        this.looking = null;
      });
    });
  }

  status(): StandbyFlushStatus {
    const now = performance.now();
    let oldest = now;
    for (const w of this.waiters) oldest = Math.min(oldest, w.since);
    return { required: this.required, waiting: this.waiters.size, waitingForMs: Math.round(now - oldest) };
  }

  private async look(): Promise<void> {
    let pause = FIRST_LOOK_MS;
    while (this.waiters.size > 0) {
      let confirmed = -1n;
      try {
        confirmed = await this.confirmedPosition();
      } catch (error) {
        this.logger?.warn({ err: error }, 'cannot read the standbys\' flush positions; events wait');
      }
      let progressed = false;
      for (const w of this.waiters) {
        if (w.position <= confirmed) {
          this.waiters.delete(w);
          w.resolve(true);
          progressed = true;
        } else if (!w.stillWanted()) {
          this.waiters.delete(w);
          w.resolve(false);
        }
      }
      if (progressed && this.warned) {
        this.warned = false;
        this.logger?.info({ required: this.required }, 'standbys confirm again; publishing goes on');
      }
      this.warnIfStuck();
      if (this.waiters.size === 0) return;
      pause = progressed || this.status().waitingForMs < QUICK_LOOKS_FOR_MS ? FIRST_LOOK_MS : Math.min(pause * 2, SLOWEST_LOOK_MS);
      await new Promise((r) => setTimeout(r, pause));
    }
  }

  /**
   * The `required`-th highest flush position among the standbys, or -1 when fewer are connected. Standbys receive
   * only what the primary has flushed, and a read's position can lie past that (WAL of transactions still open, or
   * committed with synchronous_commit off, waits for the WAL writer, up to wal_writer_delay): when the oldest
   * waiting position is past the primary's own flush, a transaction with an xid is committed, which flushes
   * everything before its commit record at once.
   */
  private async confirmedPosition(): Promise<bigint> {
    const { rows } = await this.pool.query<{ standby: boolean; flush: string | null; local: string }>(
      `SELECT r.pid IS NOT NULL AS standby, r.flush_lsn::text AS flush, pg_current_wal_flush_lsn()::text AS local
       FROM (SELECT 1) AS one LEFT JOIN pg_stat_replication r ON true`,
    );
    const connected = rows.filter((r) => r.standby).length;
    const flushed = rows.filter((r) => r.flush !== null).map((r) => walPosition(r.flush!));
    // Without pg_monitor (or pg_read_all_stats) the positions of other roles' connections read as null.
    if (connected > 0 && flushed.length === 0 && !this.warned) {
      this.warned = true;
      this.logger?.error(
        { standbys: connected, required: this.required },
        'the relay\'s database role cannot see the standbys\' flush positions: grant it pg_monitor, or no event is published',
      );
    }
    const localFlush = walPosition(rows[0]!.local);
    if (this.oldestWaitingPosition() > localFlush) await this.pool.query('SELECT txid_current()');
    flushed.sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
    return flushed.length >= this.required ? flushed[this.required - 1]! : -1n;
  }

  private oldestWaitingPosition(): bigint {
    let lowest = -1n;
    for (const w of this.waiters) if (lowest < 0n || w.position < lowest) lowest = w.position;
    return lowest;
  }

  private warnIfStuck(): void {
    if (this.warned) return;
    const { waitingForMs } = this.status();
    if (waitingForMs < WARN_AFTER_MS) return;
    this.warned = true;
    this.logger?.warn(
      { required: this.required, waitingForMs },
      'events wait for standbys to confirm their commits: fewer standbys than required are connected, or they are far behind',
    );
  }
}
