/**
 * The faults: a seeded schedule of kinds and parameters, and the injection of one fault with the figures taken
 * around it (failover, lag, drain). Faults run one at a time so each figure belongs to one fault.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { configurePartitions, readPartitionCount } from '@outbox-relay/outbox';
import { NAMES, type ChaosCluster, type RelaySlot, type RunClock } from './cluster';
import type { EventLedger, PoisonKind } from './ledger';
import type { ChaosOptions, FaultKind } from './options';
import { sleep, type Probes } from './probes';
import { Random } from './random';
import type { Workload } from './workload';

export interface FaultPlan {
  index: number;
  kind: FaultKind;
  /** Drawn from the seed when planned; `victim` is a fraction, turned into one of the relays live at the time. */
  params: Record<string, number>;
  /** Quiet time after this fault. */
  gapMs: number;
}

export interface FaultRecord {
  index: number;
  kind: FaultKind;
  params: Record<string, number>;
  startedAtMs: number;
  /** When the fault was over (process restarted or thawed, server back, change applied), on the run clock. */
  recoveredAtMs?: number;
  endedAtMs?: number;
  victim?: string;
  victimPartitions?: number[];
  /** From the fault until the victim's partitions were led by others; null = not within the bound. */
  failoverMs?: number | null;
  /** From recovery until every event committed up to then was published; null = not within the bound. */
  drainMs?: number | null;
  /**
   * From recovery until every partition published an event written after it. After a Postgres fault nothing
   * committed while it was away, so this (not the drain) is how long publishing took to come back.
   */
  resumeMs?: number | null;
  /** Oldest unpublished event's age, largest sample from the fault's start to the end of its drain. */
  maxLagMs?: number;
  /** Poison only: from the insert until the relay moved the row to the dead letters. */
  deadLetterMs?: number | null;
  outcome: string;
  /** The harness could not carry the fault out (not a finding about the relay, but never silent). */
  error?: string;
}

export class FaultSchedule {
  private bag: FaultKind[] = [];
  private index = 0;

  constructor(
    private readonly rng: Random,
    private readonly kinds: readonly FaultKind[],
    private readonly options: ChaosOptions,
  ) {}

  /**
   * The next fault, or null when no kind is enabled. Kinds come out of a shuffled bag, so a run injects every
   * enabled kind once before any kind a third time, whatever the seed.
   */
  next(): FaultPlan | null {
    if (this.kinds.length === 0) return null;
    if (this.bag.length === 0) this.bag = this.rng.shuffle(this.kinds);
    const kind = this.bag.shift()!;
    const o = this.options;
    const r = this.rng;
    const pastWindow = () => Math.round(o.duplicateWindowMs + r.between(2000, 4000));
    const params = ((): Record<string, number> => {
      switch (kind) {
        case 'relay-kill':
          return { victim: r.next(), restartAfterMs: Math.round(r.between(200, 2000)) };
        case 'relay-freeze':
          return { victim: r.next(), frozenMs: Math.round(r.between(2.5, 4) * o.leaseMs) };
        case 'relay-freeze-long':
          return { victim: r.next(), frozenMs: pastWindow() };
        case 'nats-outage':
          return { downMs: Math.round(r.between(1000, 3000)) };
        case 'nats-partition':
          return { dropMs: r.int(50, 300), downMs: Math.round(r.between(1000, 3000)) };
        case 'nats-partition-long':
          return { dropMs: r.int(50, 300), downMs: pastWindow() };
        case 'relay-kill-all-long':
        case 'nats-outage-long':
        case 'pg-outage-long':
          return { downMs: pastWindow() };
        case 'pg-outage':
          return { downMs: Math.round(r.between(2000, 4000)) };
        case 'pg-kill':
          return { downMs: Math.round(r.between(0, 1000)) };
        case 'partition-change':
          return { to: r.int(1, 6) };
        default:
          return {};
      }
    })();
    // Processes and servers go down while the relays are busy with a backlog (batches in flight, acknowledged
    // but not yet marked), not only while they idle between the writers' trickle of events.
    if (BUSY_KINDS.has(kind)) Object.assign(params, { burst: r.int(200, 600), burstLeadMs: r.int(0, 10), burstSeed: r.int(0, 2 ** 31 - 1) });
    return { index: ++this.index, kind, params, gapMs: Math.round(r.between(...o.faultGapMs)) };
  }
}

/** Kinds injected right after a burst of events. */
const BUSY_KINDS = new Set<FaultKind>([
  'relay-kill', 'relay-freeze', 'relay-freeze-long', 'relay-kill-all-long',
  'nats-outage', 'nats-outage-long', 'nats-partition', 'nats-partition-long',
  'pg-restart-fast', 'pg-restart-immediate', 'pg-kill', 'pg-outage', 'pg-outage-long',
]);

export interface FaultContext {
  cluster: ChaosCluster;
  workload: Workload;
  probes: Probes;
  ledger: EventLedger;
  options: ChaosOptions;
  clock: RunClock;
}

/**
 * Injects one fault and waits for its recovery and drain (each bounded: a bound that passes is a figure, the
 * auditor judges correctness at the end). Never throws: a fault the harness cannot carry out is recorded with
 * its error and the cluster is brought back up.
 */
export async function injectFault(ctx: FaultContext, plan: FaultPlan): Promise<FaultRecord> {
  const { cluster, probes, clock, options } = ctx;
  const record: FaultRecord = { index: plan.index, kind: plan.kind, params: plan.params, startedAtMs: clock.now(), outcome: '' };
  const bound = options.recoveryBoundMs;
  // Events committed a little before the fault count towards its lag and drain (they were in flight when it hit);
  // older ones still pending were stuck by something earlier.
  const from = (await probes.dbNow(5000)) ?? '-infinity';
  const lag = probes.lag(from);
  const recovered = async () => {
    record.recoveredAtMs = clock.now();
    const to = await probes.dbNow();
    if (to === null) {
      record.drainMs = record.resumeMs = null;
      return;
    }
    [record.drainMs, record.resumeMs] = await Promise.all([probes.drain(from, to, bound), probes.resume(to, bound)]);
  };
  cluster.log(`fault #${plan.index} ${plan.kind} ${JSON.stringify(plan.params)}`);
  try {
    const victim = plan.kind === 'relay-kill' || plan.kind.startsWith('relay-freeze') ? await pickVictim(ctx, plan, record) : null;
    if (plan.params.burst) {
      // Aimed at the victim's partitions, and the fault waits until a relay has published the first of them: it
      // then hits a relay in the middle of the burst, with publishes in flight and acknowledged events unmarked.
      const among = victim && record.victimPartitions!.length > 0 ? await probes.aggregatesIn(record.victimPartitions!) : undefined;
      const ids = await ctx.workload.burst(plan.params.burst, new Random(plan.params.burstSeed!), among);
      await probes.firstPublished(ids, 5000);
      await sleep(plan.params.burstLeadMs!);
    }
    switch (plan.kind) {
      case 'relay-kill': {
        if (!victim) break;
        const since = performance.now();
        await victim.slot.kill();
        record.failoverMs = record.victimPartitions!.length > 0 ? await probes.failover(record.victimPartitions!, victim, bound, since) : undefined;
        await recovered();
        await sleep(plan.params.restartAfterMs!);
        await victim.slot.start();
        await victim.slot.ready(bound).catch(() => undefined);
        record.outcome = `restarted as ${victim.slot.instanceId}`;
        break;
      }
      case 'relay-freeze':
      case 'relay-freeze-long': {
        if (!victim) break;
        const since = performance.now();
        victim.slot.freeze();
        const failover = record.victimPartitions!.length > 0 ? probes.failover(record.victimPartitions!, victim, bound, since) : Promise.resolve(undefined);
        await sleep(plan.params.frozenMs!);
        victim.slot.thaw();
        record.failoverMs = await failover;
        await recovered();
        record.outcome = 'thawed';
        break;
      }
      case 'relay-kill-all-long': {
        const slots = cluster.relays.filter((slot) => slot.running);
        record.victim = slots.map((slot) => slot.instanceId).join(',');
        await Promise.all(slots.map((slot) => slot.kill()));
        await sleep(plan.params.downMs!);
        await Promise.all(slots.map((slot) => slot.start()));
        await Promise.all(slots.map((slot) => slot.ready(bound).catch(() => undefined)));
        await recovered();
        record.outcome = `restarted as ${slots.map((slot) => slot.instanceId).join(',')}`;
        break;
      }
      case 'nats-partition':
      case 'nats-partition-long':
        cluster.natsProxy.dropReplies();
        await sleep(plan.params.dropMs!);
        cluster.natsProxy.cut();
        await sleep(plan.params.downMs!);
        cluster.natsProxy.restore();
        await recovered();
        record.outcome = 'network back';
        break;
      case 'nats-outage':
      case 'nats-outage-long':
        await cluster.stopNats();
        await sleep(plan.params.downMs!);
        await cluster.startNats();
        await recovered();
        record.outcome = 'nats back';
        break;
      case 'pg-restart-fast':
      case 'pg-restart-immediate':
        await cluster.postgres.restart(plan.kind === 'pg-restart-fast' ? 'fast' : 'immediate');
        await recovered();
        record.outcome = 'postgres back';
        break;
      case 'pg-kill':
        await cluster.postgres.kill();
        await sleep(plan.params.downMs!);
        await cluster.postgres.start();
        await recovered();
        record.outcome = 'postgres back (crash recovery)';
        break;
      case 'pg-outage':
      case 'pg-outage-long':
        await cluster.postgres.stop('fast');
        await sleep(plan.params.downMs!);
        await cluster.postgres.start();
        await recovered();
        record.outcome = 'postgres back';
        break;
      case 'poison-oversize':
      case 'poison-linebreak':
        await poison(ctx, plan, record, plan.kind === 'poison-oversize' ? 'oversize' : 'linebreak');
        await recovered();
        break;
      case 'partition-change':
        await changePartitions(ctx, plan, record);
        await recovered();
        break;
    }
  } catch (error) {
    record.error = error instanceof Error ? error.message : String(error);
    record.outcome ||= 'harness error';
    cluster.log(`fault #${plan.index} ${plan.kind} failed in the harness: ${record.error}`);
    await cluster.heal().catch((healError: unknown) => cluster.log(`heal failed: ${String(healError)}`));
  } finally {
    record.maxLagMs = await lag.stop();
    record.endedAtMs = clock.now();
  }
  cluster.log(
    `fault #${plan.index} ${plan.kind}: ${record.outcome}; failover ${fmt(record.failoverMs)}, resume ${fmt(record.resumeMs)}, drain ${fmt(record.drainMs)}, max lag ${fmt(record.maxLagMs)}`,
  );
  return record;
}

function fmt(ms: number | null | undefined): string {
  return ms === undefined ? '-' : ms === null ? 'not within bound' : `${ms} ms`;
}

/** One of the relays live now, chosen by the plan's fraction; the partitions it holds per the lease table. */
async function pickVictim(ctx: FaultContext, plan: FaultPlan, record: FaultRecord): Promise<{ slot: RelaySlot; instanceId: string } | null> {
  const live = ctx.cluster.live();
  if (live.length === 0) {
    record.outcome = 'skipped: no live relay';
    return null;
  }
  const slot = live[Math.min(live.length - 1, Math.floor(plan.params.victim! * live.length))]!;
  const instanceId = slot.instanceId;
  record.victim = instanceId;
  record.victimPartitions = await ctx.probes.partitionsHeldBy(instanceId);
  return { slot, instanceId };
}

/**
 * A row written with plain SQL, as a buggy or older writer (or a hand-made fix) could: nothing at enqueue stops
 * it. The relay must move it to the dead letters and go on. Its own aggregate, so no account's versions have a
 * hole because of it.
 */
async function poison(ctx: FaultContext, plan: FaultPlan, record: FaultRecord, kind: PoisonKind): Promise<void> {
  const id = randomUUID();
  const aggregateId = kind === 'oversize' ? `poison-${plan.index}` : `poison\nline-${plan.index}`;
  const payload = kind === 'oversize' ? { pad: 'x'.repeat(ctx.options.maxMsgSize + 1024) } : { poison: plan.index };
  await ctx.cluster.db.query(
    `INSERT INTO "${NAMES.schema}".outbox (id, partition, aggregate_type, aggregate_id, event_type, payload)
     SELECT $1, ((hashtextextended('Poison/' || $2, 0) % s.partitions) + s.partitions) % s.partitions, 'Poison', $2, $3, $4::jsonb
     FROM "${NAMES.schema}".outbox_settings s`,
    [id, aggregateId, kind === 'oversize' ? 'TooBig' : 'LineBreak', JSON.stringify(payload)],
  );
  ctx.ledger.addPoison({ id, kind, aggregateId, insertedAtMs: ctx.clock.now() });
  const moved = await ctx.probes.deadLettered(id, ctx.options.recoveryBoundMs);
  record.deadLetterMs = moved?.ms ?? null;
  record.outcome = moved === null ? `${id} not dead-lettered within the bound` : `${id} dead-lettered: ${moved.reason.slice(0, 120)}`;
}

/**
 * Another partition count while writers and relays run. Refused (typed SchemaError) while events are pending,
 * which is most of the time under load: tried for a few seconds, and a refusal is recorded, not a failure.
 */
async function changePartitions(ctx: FaultContext, plan: FaultPlan, record: FaultRecord): Promise<void> {
  const db = ctx.cluster.db;
  const current = await readPartitionCount(db, NAMES.schema);
  const to = plan.params.to === current ? (current % 6) + 1 : plan.params.to!;
  const deadline = performance.now() + 3000;
  let refusals = 0;
  for (;;) {
    try {
      await configurePartitions(db, NAMES.schema, to);
      record.outcome = `applied ${current} -> ${to} after ${refusals} refusals`;
      return;
    } catch (error) {
      if ((error as Error).name !== 'SchemaError') throw error;
      refusals++;
      if (performance.now() > deadline) {
        record.outcome = `refused ${refusals} times (events pending): stays ${current}`;
        return;
      }
      await sleep(25);
    }
  }
}
