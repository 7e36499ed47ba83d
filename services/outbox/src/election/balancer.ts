import type { Pool } from 'pg';
import { delay, FailureLog, type Logger } from '@outbox-relay/runtime';
import { outboxTables, type OutboxTables } from '../schema/names';
import { RELAY_SIGNAL_PREFIX } from '../relay-signals';
import { decideBalance, type BalanceDecision, type MemberView } from './shares';

export interface PartitionBalancerOptions {
  pool: Pool;
  schema: string;
  instanceId: string;
  partitions: number;
  /** Membership expires like a lease: a member silent this long no longer counts. */
  leaseMs: number;
  /** Heartbeat and rebalance period. */
  intervalMs: number;
  /** Told after every look at the table; the relay releases `release` gracefully. */
  onDecision: (decision: BalanceDecision) => void;
  /** Told when the schema's partition count is not `partitions` any more (it changed while running). */
  onPartitionCount?: (partitions: number) => void;
  logger?: Logger;
}

/** What the balancer saw last (for status and tests). */
export interface BalancerSnapshot {
  members: MemberView[];
  target: number;
  /** partition → holder of a live lease */
  holders: Record<number, string>;
}

const CLEANUP_EVERY_TICKS = 120;

/**
 * Keeps this instance's membership heartbeat and decides which partitions it should lead, from the live members
 * and live leases in the database (database clock only). It never takes a lease itself: it tells the electors
 * which free partitions they may campaign for (`wants`) and the relay which ones to hand over.
 */
export class PartitionBalancer {
  private readonly t: OutboxTables;
  private wanted = new Set<number>();
  private snapshotValue: BalancerSnapshot | null = null;
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private again = false;
  private wakeLoop: (() => void) | null = null;
  private ticks = 0;
  /** The join was announced (by the first heartbeat that succeeded). */
  private announced = false;
  private readonly failures: FailureLog;

  private partitions: number;

  constructor(private readonly options: PartitionBalancerOptions) {
    this.t = outboxTables(options.schema);
    this.partitions = options.partitions;
    this.failures = new FailureLog(options.logger, 'balance check');
  }

  /**
   * Joins (first heartbeat and decision before returning), tells the others at once (NOTIFY `joined:<id>`, so
   * they hand over their surplus now rather than at their next periodic check), then rebalances every interval.
   */
  async start(): Promise<void> {
    await this.tick().then(
      () => this.failures.succeeded(),
      (error: unknown) => this.failures.failed(error),
    );
    this.loop ??= this.run();
  }

  /** Leaves: stops the loop and deletes the membership row so the others rebalance at once. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wakeLoop?.();
    await this.loop;
    await this.options.pool
      .query(`DELETE FROM ${this.t.members} WHERE instance_id = $1`, [this.options.instanceId])
      .catch((error: unknown) => this.options.logger?.warn({ err: error }, 'leaving the members failed; the row will expire'));
  }

  /** The partition count changed: shares are computed over `partitions` from now on. */
  setPartitions(partitions: number): void {
    this.partitions = partitions;
  }

  wants(partition: number): boolean {
    return this.wanted.has(partition);
  }

  get snapshot(): BalancerSnapshot | null {
    return this.snapshotValue;
  }

  /**
   * Another member just released `partition` (its NOTIFY): may this member take it before its next look? Yes when,
   * by the last look, it holds fewer than its share (`heldNow`: what it leads right now) and is not yielding. The
   * look in between would cost a round trip on every hand-over. Two members short at once may both try; the lease
   * picks one, and the next look settles any surplus.
   */
  claimReleased(partition: number, heldNow: number): boolean {
    const snapshot = this.snapshotValue;
    const self = snapshot?.members.find((m) => m.instanceId === this.options.instanceId);
    if (!snapshot || !self || self.yielding || heldNow >= snapshot.target || partition >= this.partitions) return false;
    this.wanted.add(partition);
    return true;
  }

  /** Look again now (a lease was released or a member left), coalescing bursts. */
  tickNow(): void {
    this.again = true;
    this.wakeLoop?.();
  }

  /** Ranks this member last for `ms`, so partitions it steps down from go to others. */
  async yieldFor(ms: number): Promise<void> {
    await this.options.pool.query(
      `UPDATE ${this.t.members} SET yield_until = now() + make_interval(secs => $2::float8 / 1000) WHERE instance_id = $1`,
      [this.options.instanceId, ms],
    );
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      if (!this.again) {
        await new Promise<void>((resolve) => {
          this.wakeLoop = resolve;
          void delay(this.options.intervalMs, this.abort.signal).then(resolve);
        });
        this.wakeLoop = null;
      }
      this.again = false;
      if (this.abort.signal.aborted) break;
      try {
        await this.tick();
        this.failures.succeeded();
      } catch (error) {
        // Keep what we hold (the electors renew on their own); just do not take anything new meanwhile.
        this.wanted = new Set();
        this.failures.failed(error);
      }
    }
  }

  /**
   * One round trip: the heartbeat, the live members and the live leases in one statement (a tick sits between a
   * released lease and its successor, so every round trip is hand-over time). The first heartbeat also sends the
   * NOTIFY that makes the others look at once; Postgres delivers it when the heartbeat commits, so they see the row.
   */
  private async tick(): Promise<void> {
    const { pool, instanceId, leaseMs } = this.options;
    const partitions = this.partitions;
    const { rows } = await pool.query<{ instance_id: string; yielding: boolean | null; partition: number | null; partitions: number | null }>(
      `WITH beat AS (
         INSERT INTO ${this.t.members} (instance_id, expires_at) VALUES ($1, now() + make_interval(secs => $2::float8 / 1000))
         ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = now(), expires_at = EXCLUDED.expires_at
         RETURNING instance_id, yield_until > now() AS yielding,
                   CASE WHEN $4::boolean THEN pg_notify($3, $5::text || $1) END AS announced)
       SELECT instance_id, yield_until > now() AS yielding, NULL::int AS partition, NULL::int AS partitions FROM ${this.t.members}
        WHERE expires_at > now() AND instance_id <> $1
       UNION ALL SELECT instance_id, yielding, NULL, NULL FROM beat
       UNION ALL SELECT holder, NULL, partition, NULL FROM ${this.t.partitions} WHERE holder IS NOT NULL AND expires_at > now()
       UNION ALL SELECT NULL, NULL, NULL, partitions FROM ${this.t.settings}`,
      [instanceId, leaseMs, this.t.channel, !this.announced, RELAY_SIGNAL_PREFIX.joined],
    );
    this.announced = true;
    if (++this.ticks % CLEANUP_EVERY_TICKS === 0) {
      await pool.query(`DELETE FROM ${this.t.members} WHERE expires_at < now() - interval '1 hour'`);
    }
    const holders = new Map<number, string>();
    const memberRows: Array<{ instance_id: string; yielding: boolean }> = [];
    for (const r of rows) {
      if (r.partitions !== null) {
        // Missed the NOTIFY (a change while the listen connection was down): the periodic look catches it.
        if (r.partitions !== partitions) this.options.onPartitionCount?.(r.partitions);
        continue;
      }
      if (r.partition !== null) holders.set(r.partition, r.instance_id);
      else memberRows.push({ instance_id: r.instance_id, yielding: r.yielding === true });
    }
    const held = new Map<string, number>();
    for (const holder of holders.values()) held.set(holder, (held.get(holder) ?? 0) + 1);
    const members = memberRows.map((r) => ({ instanceId: r.instance_id, yielding: r.yielding, held: held.get(r.instance_id) ?? 0 }));
    const decision = decideBalance(instanceId, partitions, members, holders);
    this.wanted = new Set(decision.acquire);
    this.snapshotValue = { members, target: decision.target, holders: Object.fromEntries(holders) };
    this.options.onDecision(decision);
  }
}
