/**
 * Measurements taken while faults run. Lag and drain are judged from each event's commit timestamp
 * (track_commit_timestamp on the private server), on the database clock, so a long transaction's rows count from
 * their commit, not from their transaction's start, and the harness's clock never mixes with the server's.
 */
import { performance } from 'node:perf_hooks';
import { NAMES, type ChaosCluster, type RelaySlot } from './cluster';

const OUTBOX = `"${NAMES.schema}".outbox`;
/** The event state views (migration 1733800000000): what "pending" and "published" mean, wherever it is stored. */
const PENDING = `"${NAMES.schema}".outbox_pending`;
const PUBLISHED = `"${NAMES.schema}".outbox_published`;

export class Probes {
  constructor(private readonly cluster: ChaosCluster) {}

  /**
   * The database clock (minus `earlierMs`) as text, microseconds kept, retried while Postgres is away; null after
   * `boundMs`.
   */
  async dbNow(earlierMs = 0, boundMs = 60_000): Promise<string | null> {
    const deadline = performance.now() + boundMs;
    for (;;) {
      try {
        const { rows } = await this.cluster.db.query<{ now: string }>(
          `SELECT (clock_timestamp() - make_interval(secs => $1::float8 / 1000))::text AS now`,
          [earlierMs],
        );
        return rows[0]!.now;
      } catch {
        if (performance.now() > deadline) return null;
        await sleep(50);
      }
    }
  }

  /** Instances' partitions as the lease table says (what a killed process held, whatever it believed). */
  async partitionsHeldBy(instanceId: string): Promise<number[]> {
    const { rows } = await this.cluster.db.query<{ partition: number }>(
      `SELECT partition FROM "${NAMES.schema}".outbox_partitions WHERE holder = $1 AND expires_at > now() ORDER BY partition`,
      [instanceId],
    );
    return rows.map((r) => r.partition);
  }

  /**
   * Milliseconds until every event committed in [from, to] is published, counted from this call; null when that
   * does not happen within `boundMs`. The lower bound keeps events stuck by an earlier fault from being charged to
   * this one (they are the auditor's business).
   */
  async drain(from: string, to: string, boundMs: number): Promise<number | null> {
    const started = performance.now();
    for (;;) {
      try {
        // xmin (the writer's commit) is a system column of the table, which no view passes on: joined by seq.
        const { rows } = await this.cluster.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${OUTBOX} o JOIN ${PENDING} p ON p.seq = o.seq
           WHERE pg_xact_commit_timestamp(o.xmin) BETWEEN $1::timestamptz AND $2::timestamptz`,
          [from, to],
        );
        if (rows[0]!.n === 0) return Math.round(performance.now() - started);
      } catch {
        // Postgres away: keep asking.
      }
      if (performance.now() - started > boundMs) return null;
      await sleep(50);
    }
  }

  /**
   * Milliseconds until every partition that received events from transactions begun at or after `since` (the
   * database clock at recovery) has published at least one of them: publishing resumed everywhere. Null when that
   * does not happen within `boundMs`. (Rows published before migration 1733900000000 carry their mark's xmin, so this one goes by created_at,
   * which is the writing transaction's start.)
   */
  async resume(since: string, boundMs: number): Promise<number | null> {
    const started = performance.now();
    let fromSeq: string | null = null;
    for (;;) {
      try {
        // Only rows inserted after recovery matter; the seq bound keeps each look an index range scan.
        fromSeq ??= (await this.cluster.db.query<{ seq: string }>(`SELECT COALESCE(max(seq), 0)::text AS seq FROM ${OUTBOX}`)).rows[0]!.seq;
        const { rows } = await this.cluster.db.query<{ partitions: number; resumed: number }>(
          `SELECT count(*)::int AS partitions, count(*) FILTER (WHERE published)::int AS resumed
           FROM (SELECT partition, bool_or(published) AS published
                 FROM (SELECT partition, seq, created_at, false AS published FROM ${PENDING}
                       UNION ALL
                       SELECT partition, seq, created_at, true AS published FROM ${PUBLISHED}) e
                 WHERE seq > $1::bigint AND created_at >= $2::timestamptz GROUP BY partition) p`,
          [fromSeq, since],
        );
        const r = rows[0]!;
        if (r.partitions > 0 && r.resumed === r.partitions) return Math.round(performance.now() - started);
      } catch {
        // Postgres away: keep asking.
      }
      if (performance.now() - started > boundMs) return null;
      await sleep(50);
    }
  }

  /** The accounts whose events land in `partitions` (the writers' hash, computed by the database as enqueue does). */
  async aggregatesIn(partitions: readonly number[]): Promise<string[]> {
    const { rows } = await this.cluster.db.query<{ id: string }>(
      `SELECT a.id FROM ${NAMES.business}.accounts a, "${NAMES.schema}".outbox_settings s
       WHERE ((hashtextextended('Account/' || a.id, 0) % s.partitions) + s.partitions) % s.partitions = ANY($1::int[])
       ORDER BY a.id`,
      [partitions],
    );
    return rows.map((r) => r.id);
  }

  /** Resolves once any of `ids` is marked published (a relay is then mid-way through them), or after `boundMs`. */
  async firstPublished(ids: readonly string[], boundMs: number): Promise<void> {
    if (ids.length === 0) return;
    const deadline = performance.now() + boundMs;
    while (performance.now() < deadline) {
      try {
        const { rows } = await this.cluster.db.query(`SELECT 1 FROM ${PUBLISHED} WHERE id = ANY($1::uuid[]) LIMIT 1`, [ids]);
        if (rows.length > 0) return;
      } catch {
        return;
      }
      await sleep(2);
    }
  }

  /** Milliseconds until `id` is in the relay's dead letters, with the reason recorded; null after `boundMs`. */
  async deadLettered(id: string, boundMs: number): Promise<{ ms: number; reason: string } | null> {
    const started = performance.now();
    for (;;) {
      try {
        const { rows } = await this.cluster.db.query<{ reason: string }>(`SELECT reason FROM "${NAMES.schema}".outbox_dead_letters WHERE event_id = $1`, [id]);
        if (rows[0]) return { ms: Math.round(performance.now() - started), reason: rows[0].reason };
      } catch {
        // Postgres away: keep asking.
      }
      if (performance.now() - started > boundMs) return null;
      await sleep(50);
    }
  }

  /**
   * Samples the age of the oldest unpublished event committed at or after `from` until stopped; `stop()` returns
   * the largest age seen. Samples fail while Postgres is away; the first one after it returns covers the outage.
   */
  lag(from: string, everyMs = 200): { stop(): Promise<number> } {
    let max = 0;
    let running = true;
    const sample = async () => {
      try {
        // xmin (the writer's commit) is a system column of the table, which no view passes on: joined by seq.
        const { rows } = await this.cluster.db.query<{ lag: number | null }>(
          `SELECT (EXTRACT(EPOCH FROM clock_timestamp() - min(ts)) * 1000)::float8 AS lag
           FROM (SELECT pg_xact_commit_timestamp(o.xmin) AS ts FROM ${OUTBOX} o JOIN ${PENDING} p ON p.seq = o.seq) pending
           WHERE ts >= $1::timestamptz`,
          [from],
        );
        max = Math.max(max, rows[0]?.lag ?? 0);
      } catch {
        // Postgres away.
      }
    };
    const loop = (async () => {
      while (running) {
        await sample();
        await sleep(everyMs);
      }
      await sample();
    })();
    return {
      async stop() {
        running = false;
        await loop;
        return Math.round(max);
      },
    };
  }

  /**
   * Milliseconds until every one of `partitions` is led (per /status) by a live relay other than `victim`'s
   * process; null when that does not happen within `boundMs`.
   */
  async failover(partitions: readonly number[], victim: { slot: RelaySlot; instanceId: string }, boundMs: number, since: number): Promise<number | null> {
    for (;;) {
      const leaders = await this.cluster.leaders(victim.slot);
      if (partitions.every((p) => leaders.has(p) && leaders.get(p) !== victim.instanceId)) return Math.round(performance.now() - since);
      if (performance.now() - since > boundMs) return null;
      await sleep(25);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
