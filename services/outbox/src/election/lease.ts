import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Pool } from 'pg';
import { FailureLog, type Logger } from '@outbox-relay/runtime';
import { outboxTables, type OutboxTables } from '../schema/names';
import { RELAY_SIGNAL_PREFIX } from '../relay-signals';

export interface LeaseElectorOptions {
  pool: Pool;
  schema: string;
  partition: number;
  /** Unique per process; a restarted process is a new holder. */
  instanceId: string;
  leaseMs: number;
  renewMs: number;
  /** How often a follower tries to acquire; defaults to renewMs. Released leases are taken at once via poke(). */
  retryMs?: number;
  /** Asked before every acquisition attempt (the balancer's say); renewals of a held lease never ask. */
  mayAcquire?: () => boolean;
  /**
   * Where the new holder's messages will be stored at the earliest (a stream sequence known to this process), or
   * null when unknown. An acquisition records it as the row's `check_stream_from` when the row has none (the last
   * term ended with everything marked), in the same statement, so a clean successor starts publishing without
   * first asking the stream (see stream-check.ts).
   */
  streamCheckBound?: () => number | null;
  logger?: Logger;
  /**
   * Where failed heartbeats are told (one per relay, shared by its partitions, so a database outage is one WARN
   * for all of them rather than one per partition per renewal). Default: one of its own.
   */
  heartbeatFailures?: FailureLog;
}

/** What an acquisition found on the lease row about the stream (see LeaseElectorOptions.streamCheckBound). */
export interface AcquiredStreamCheck {
  /** The row's `check_stream_from` before the acquisition: where unmarked events of earlier terms may be stored. */
  from: number | null;
  /** `from` was null and the acquisition recorded this process's bound in its place: nothing to look at. */
  boundRecorded: boolean;
}

export interface LeaseElectorEvents {
  elected: [epoch: number, streamCheck: AcquiredStreamCheck];
  lost: [epoch: number, reason: string];
  /** `outboxctl step-down` asked the holder of `epoch` to hand over (seen at a renewal). */
  stepDownRequested: [epoch: number];
}

/**
 * Leader election for one partition through a heartbeat row in Postgres.
 *
 * Expiry is judged by the database clock only (`now()` in every statement), never this pod's clock. Every
 * acquisition bumps the row's epoch; callers pass that epoch to every fenced statement, so a paused or
 * partitioned old leader can no longer move progress once a successor holds a newer epoch.
 *
 * Locally, `isLeading()` also honours a conservative deadline: the time the last successful renewal was *sent*
 * (monotonic clock) plus 90% of the lease. The database's expiry is at least that late, so a process that was
 * paused past its lease stops publishing before it has even learned that it lost.
 */
export class LeaseElector extends EventEmitter<LeaseElectorEvents> {
  private readonly t: OutboxTables;
  private readonly retryMs: number;
  private currentEpoch: number | null = null;
  private deadline = 0;
  /** When the last successful acquisition or renewal was sent (monotonic ms). */
  private renewedAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private ticking: Promise<void> | null = null;
  /** After stepping down, do not campaign before this (monotonic ms), so another candidate gets the lease. */
  private cooldownUntil = 0;
  private readonly heartbeatFailures: FailureLog;

  /**
   * Where a look at the stream must start in time when the row is stale: the earliest creation time of the
   * partition's pending events (each one's message, if it was stored, was stored after its commit), less a minute for
   * the clocks of Postgres and NATS. A scalar subquery, so it runs only when a stale row needs it (one pass over the
   * partition's pending events, along the index, no sort).
   */
  private readonly pendingSinceSql: string;

  constructor(private readonly options: LeaseElectorOptions) {
    super();
    this.t = outboxTables(options.schema);
    this.pendingSinceSql = `(SELECT min(o.created_at) - interval '1 minute' FROM ${this.t.pendingEvents} o WHERE o.partition = $1)`;
    this.retryMs = options.retryMs ?? options.renewMs;
    this.heartbeatFailures = options.heartbeatFailures ?? new FailureLog(options.logger, 'lease heartbeat');
  }

  get partition(): number {
    return this.options.partition;
  }

  get leaseMs(): number {
    return this.options.leaseMs;
  }

  /** Since the last successful acquisition or renewal of the held lease was sent (ms), or null when none is held. */
  get renewedAgoMs(): number | null {
    return this.currentEpoch === null ? null : Math.round(performance.now() - this.renewedAt);
  }

  /** The epoch this process leads with, or null. */
  get epoch(): number | null {
    return this.isLeading() ? this.currentEpoch : null;
  }

  /**
   * True while this process holds the lease at `epoch` as far as it knows, even past its local deadline (a
   * renewal may be late, not lost). Use `isLeading` to decide whether to publish right now.
   */
  holds(epoch: number): boolean {
    return this.currentEpoch === epoch;
  }

  /** True while this process holds the lease (at `epoch`, when given) and its local deadline has not passed. */
  isLeading(epoch?: number): boolean {
    if (this.currentEpoch === null) return false;
    if (epoch !== undefined && epoch !== this.currentEpoch) return false;
    return performance.now() < this.deadline;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Try to acquire (or renew) right now, e.g. when another holder announced it released the lease. */
  poke(): void {
    if (this.running && this.currentEpoch === null && performance.now() >= this.cooldownUntil) this.schedule(0);
  }

  /** Renew right now (a step-down request was announced): the renewal reads the request. */
  checkNow(): void {
    if (this.running && this.currentEpoch !== null) this.schedule(0);
  }

  /**
   * Hands the lease of `epoch` back at once (graceful switchover) and keeps campaigning only after `cooldownMs`,
   * so another candidate takes it; alone, this process takes it again with a new epoch. The caller must have
   * stopped publishing under `epoch` first. With `nothingUnmarked` (every event the term sent is marked) the same
   * statement clears the row's `check_stream_from`, so the successor has nothing to look for in the stream.
   * Returns false when `epoch` is no longer held.
   */
  async release(epoch: number, options: { cooldownMs?: number; nothingUnmarked?: boolean } = {}): Promise<boolean> {
    if (this.currentEpoch !== epoch) return false;
    const cooldownMs = options.cooldownMs ?? this.options.leaseMs;
    this.currentEpoch = null;
    this.cooldownUntil = performance.now() + cooldownMs;
    await this.releaseRow(epoch, options.nothingUnmarked ?? false);
    this.emit('lost', epoch, 'stepped down');
    this.schedule(cooldownMs);
    return true;
  }

  /**
   * Stops campaigning. With `release` (the default) the lease is handed back at once and followers are
   * notified, so a successor takes over without waiting for expiry.
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.ticking;
    const epoch = this.currentEpoch;
    if (epoch === null) return;
    this.currentEpoch = null;
    if (options.release ?? true) await this.releaseRow(epoch, false);
    this.emit('lost', epoch, 'stopped');
  }

  /** Clears the holder and tells followers (NOTIFY), so one of them acquires without waiting for expiry. */
  private async releaseRow(epoch: number, nothingUnmarked: boolean): Promise<void> {
    try {
      await this.options.pool.query(
        `WITH released AS (
           UPDATE ${this.t.partitions}
           SET holder = NULL, expires_at = now(), check_stream_from = CASE WHEN $6 THEN NULL ELSE check_stream_from END
           WHERE partition = $1 AND holder = $2 AND epoch = $3 RETURNING partition)
         SELECT pg_notify($4, $5::text || partition) FROM released`,
        [this.options.partition, this.options.instanceId, epoch, this.t.channel, RELAY_SIGNAL_PREFIX.released, nothingUnmarked],
      );
      this.options.logger?.info({ partition: this.partition, epoch }, 'lease released');
    } catch (error) {
      this.options.logger?.warn({ err: error, partition: this.partition, epoch }, 'lease release failed; it will expire');
    }
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.ticking) return this.schedule(10);
      this.ticking = this.tick().finally(() => {
        this.ticking = null;
      });
    }, ms);
  }

  private async tick(): Promise<void> {
    let next = this.retryMs;
    try {
      if (this.currentEpoch === null) {
        const cooling = this.cooldownUntil - performance.now();
        if (cooling > 0) return this.schedule(cooling);
        if (this.options.mayAcquire?.() ?? true) await this.tryAcquire();
      } else if (!(await this.renew(this.currentEpoch))) {
        next = 0; // nobody may hold it now: campaign again at once (a new acquisition means a new epoch)
      }
      if (this.currentEpoch !== null) next = this.options.renewMs;
      this.heartbeatFailures.succeeded({}, String(this.partition));
    } catch (error) {
      const epoch = this.currentEpoch;
      this.heartbeatFailures.failed(error, { partition: this.partition, epoch }, String(this.partition));
      if (epoch !== null && performance.now() >= this.deadline) this.lose(epoch, 'renewal failed past the lease deadline');
      else if (epoch !== null) next = Math.min(this.options.renewMs, 100);
    }
    this.schedule(next);
  }

  private async tryAcquire(): Promise<void> {
    const sentAt = performance.now();
    const bound = this.options.streamCheckBound?.() ?? null;
    // FOR UPDATE reads the row as last committed (a late mark of an expired holder included), so `before` is what
    // this acquisition really replaces. A row from an earlier timeline (migration 1733500000000: the database
    // failed over, and the promoted copy may be stale) is never trusted: held, it is given a full lease on this
    // timeline instead of being taken; taken, it keeps its stream check and records where in time to look.
    const { rows } = await this.options.pool.query<{ epoch: string | null; before: string | null; recorded: boolean | null; graced: boolean }>(
      `WITH here AS (SELECT ${this.t.walTimeline} AS timeline),
       lease AS (
         SELECT l.partition, l.holder, l.expires_at, l.check_stream_from AS before, l.check_stream_since AS since,
                COALESCE(l.timeline < here.timeline, false) AS stale
         FROM ${this.t.partitions} l, here WHERE l.partition = $1 FOR UPDATE OF l),
       graced AS (
         UPDATE ${this.t.partitions} p
         SET timeline = here.timeline, expires_at = GREATEST(p.expires_at, now() + make_interval(secs => $3::float8 / 1000)),
             check_stream_since = LEAST(lease.since, ${this.pendingSinceSql})
         FROM lease, here
         WHERE p.partition = lease.partition AND lease.holder IS NOT NULL AND lease.stale
         RETURNING p.partition),
       taken AS (
         UPDATE ${this.t.partitions} p
         SET holder = $2, epoch = p.epoch + 1, acquired_at = now(), renewed_at = now(), timeline = here.timeline,
             expires_at = now() + make_interval(secs => $3::float8 / 1000),
             check_stream_from = CASE WHEN lease.stale THEN lease.before ELSE COALESCE(lease.before, $4::bigint) END,
             check_stream_since = CASE WHEN lease.stale THEN LEAST(lease.since, ${this.pendingSinceSql}) ELSE lease.since END
         FROM lease, here
         WHERE p.partition = lease.partition AND (lease.holder IS NULL OR (lease.expires_at <= now() AND NOT lease.stale))
         RETURNING p.epoch, lease.before,
                   NOT lease.stale AND lease.before IS NULL AND lease.since IS NULL AND $4::bigint IS NOT NULL AS recorded)
       SELECT taken.epoch::text AS epoch, taken.before::text AS before, taken.recorded, EXISTS (SELECT 1 FROM graced) AS graced
       FROM (SELECT 1) AS one LEFT JOIN taken ON true`,
      [this.options.partition, this.options.instanceId, this.options.leaseMs, bound],
    );
    const found = rows[0];
    if (found?.graced) {
      this.options.logger?.warn(
        { partition: this.partition, leaseMs: this.options.leaseMs },
        'lease row was last renewed on an earlier timeline (the database failed over): its holder keeps it for one more lease',
      );
    }
    if (!this.running || !found || found.epoch === null) return;
    this.deadline = sentAt + this.options.leaseMs * 0.9;
    this.renewedAt = sentAt;
    this.currentEpoch = Number(found.epoch);
    const from = found.before === null ? null : Number(found.before);
    this.options.logger?.info({ partition: this.partition, epoch: this.currentEpoch, checkStreamFrom: from }, 'lease acquired');
    this.emit('elected', this.currentEpoch, { from, boundRecorded: found.recorded === true });
  }

  /** False when the lease turned out to be lost. */
  private async renew(epoch: number): Promise<boolean> {
    const sentAt = performance.now();
    // Only on the timeline the row was last written on: a copy from before a failover may be stale (its expiry
    // older than this term's last renewal), so the term ends and the row goes through the acquisition's grace. Once
    // graced, the row is on this timeline and its holder may renew it; that is within a lease of the failover, so
    // whatever it publishes again after lost marks is inside the duplicate window.
    const { rows } = await this.options.pool.query<{ step_down_epoch: string | null }>(
      `WITH here AS (SELECT ${this.t.walTimeline} AS timeline)
       UPDATE ${this.t.partitions} p
       SET renewed_at = now(), expires_at = now() + make_interval(secs => $4::float8 / 1000)
       FROM here
       WHERE p.partition = $1 AND p.holder = $2 AND p.epoch = $3 AND p.expires_at > now() AND p.timeline IS NOT DISTINCT FROM here.timeline
       RETURNING p.step_down_epoch`,
      [this.options.partition, this.options.instanceId, epoch, this.options.leaseMs],
    );
    if (this.currentEpoch !== epoch) return false;
    const row = rows[0];
    if (row) {
      this.deadline = sentAt + this.options.leaseMs * 0.9;
      this.renewedAt = sentAt;
      if (row.step_down_epoch !== null && Number(row.step_down_epoch) === epoch) this.emit('stepDownRequested', epoch);
      return true;
    }
    this.lose(epoch, 'lease expired or taken over');
    return false;
  }

  private lose(epoch: number, reason: string): void {
    if (this.currentEpoch !== epoch) return;
    this.currentEpoch = null;
    this.options.logger?.warn({ partition: this.partition, epoch, reason }, 'lease lost');
    this.emit('lost', epoch, reason);
  }
}
