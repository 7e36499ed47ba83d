import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Client, ClientConfig, Pool } from 'pg';
import { Backoff, childLogger, FailureLog, silentLogger, type Logger } from '@outbox-relay/runtime';
import { WakeSignal } from './wake';
import { PartitionBalancer, type BalancerSnapshot } from '../election/balancer';
import { DEFAULT_PUBLISH_WINDOW, defaultCloudEventsSource, validateRelaySettings, type RelaySettings } from '../config';
import { parseRelaySignal } from '../relay-signals';
import { LeaseElector } from '../election/lease';
import { PgListener } from '../election/listener';
import { assertSchemaCurrent, readPartitionCount } from '../schema/migrate';
import { outboxTables } from '../schema/names';
import { PartitionRelay, type PartitionStream } from './partition-relay';
import { findStoredEvents } from '../publish/stream-check';
import { JetStreamPublisher } from '../publish/publisher';
import { ensureStreamReport } from '../publish/ensure-stream';
import { StreamConfigError } from '../publish/stream-config';
import { PubAckCollector } from '../publish/pub-acks';
import { OutboxReader } from './reader';
import { noopRelayObserver, type RelayObserver } from './observer';
import { ProgressTracker } from './progress';
import { RetentionSweeper, sweepOutbox } from '../maintenance/retention';
import { openClient, PrimaryPool } from '../postgres/postgres-primary';
import { StandbyFlushGate, type StandbyFlushStatus } from '../postgres/standby-flush-gate';

export interface OutboxRelayDeps {
  pool: Pool;
  nats: NatsConnection;
  /** Any pino-compatible logger, or `console`; default: logs nothing. */
  logger?: Logger;
  /**
   * Connection settings for the LISTEN connection; by default the pool's (for a `PrimaryPool`, a connection to the
   * same primary, checked as the pool's are).
   */
  listenConnection?: ClientConfig;
  /** Told what the relay does, for metrics; defaults to nothing. */
  observer?: RelayObserver;
  /**
   * Connections for lease renewals, releases and membership heartbeats (default: `pool`). A separate small pool
   * keeps them from queueing behind the partitions' reads and marks: a renewal that waits too long pauses
   * publishing, and a release that waits delays every hand-over.
   */
  leasePool?: Pool;
  /**
   * The stream does not fit the configuration and the relay will not (verify mode) or cannot (another stream holds
   * the subjects) change it. The relay publishes nothing until stopped: retrying cannot help. A process ends here
   * with its configuration exit code; without this callback the error is only logged.
   */
  onStreamConfigError?: (error: StreamConfigError) => void;
}

export interface PartitionStatus {
  partition: number;
  leading: boolean;
  epoch: number | null;
  /** Events this instance moved to the relay dead letters for this partition since it started. */
  deadLettered: number;
  /**
   * While this instance leads the partition (else null), ages in ms on its monotonic clock: of its term, of its
   * last lease renewal, and of its last acknowledged publish in this term (null when none yet). What the
   * operator judges progress by (a leader renewing its lease but publishing nothing while events wait).
   */
  leadingForMs: number | null;
  renewedAgoMs: number | null;
  publishedAgoMs: number | null;
}

export interface RelayStatus {
  instanceId: string;
  /** Leads at least one partition. */
  leading: boolean;
  partitions: PartitionStatus[];
  /** This instance's fair share of partitions and the live members it was computed from (null before joining). */
  balance: { target: number; members: string[] } | null;
  /**
   * Connected to NATS as far as the client knows (null before start). A leader that publishes nothing while
   * disconnected is the victim of an outage when no other instance is connected either: replacing it would help
   * nothing, which is how the operator tells the two apart.
   */
  natsConnected: boolean | null;
  /** With `confirmingStandbys`: how many reads wait for standbys to flush their commits, and for how long. */
  standbyFlush?: StandbyFlushStatus;
}

/**
 * The relay: campaigns for every partition's lease and, where it leads, publishes that partition's events to
 * JetStream in commit order per aggregate. Any number of instances may run; the leases pick the publishers.
 */
export class OutboxRelay {
  private readonly logger: Logger;
  private electors: LeaseElector[] = [];
  private partitions: PartitionRelay[] = [];
  private listener: PgListener | null = null;
  private sweeper: RetentionSweeper | null = null;
  private balancer: PartitionBalancer | null = null;
  private acks: PubAckCollector | null = null;
  private standbys: StandbyFlushGate | null = null;
  private steppingDown: Promise<Array<{ partition: number; epoch: number }>> | null = null;
  private streamReadyPromise: Promise<void> | null = null;
  private streamEnsuring = false;
  /** The stream was ensured since it was last found missing: the acknowledgement collector's sequences are its. */
  private streamSeqKnown = false;
  /** Why the stream does not fit, once found (the relay then publishes nothing). */
  streamConfigError: StreamConfigError | null = null;
  private readonly streamRetryNow = new WakeSignal();
  private makePartition: ((partition: number) => { elector: LeaseElector; relay: PartitionRelay }) | null = null;
  private repartitioning: Promise<void> = Promise.resolve();
  private started = false;
  private progress: ProgressTracker | null = null;

  constructor(
    private readonly deps: OutboxRelayDeps,
    readonly settings: RelaySettings,
  ) {
    // Settings built in code get the checks the environment path applies (a short duplicate window, ...).
    validateRelaySettings(settings);
    this.logger = childLogger(deps.logger ?? silentLogger, { component: 'relay', instanceId: settings.instanceId });
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const { pool } = this.deps;
    const leasePool = this.deps.leasePool ?? pool;
    const observer = new ProgressTracker(this.deps.observer ?? noopRelayObserver);
    this.progress = observer;
    const s = this.settings;
    const count = await readPartitionCount(pool, s.schema);
    // Fail at once, naming the migrations, rather than on every read (the read is a function of the schema).
    await assertSchemaCurrent(pool, s.schema);
    // No phantom events (optional): each read says where the WAL was, and waits for standbys to flush up to there.
    const standbys = (s.confirmingStandbys ?? 0) > 0 ? new StandbyFlushGate(pool, s.confirmingStandbys!, this.logger) : null;
    this.standbys = standbys;
    const reader = new OutboxReader(pool, s.schema, { walPosition: standbys !== null, maxBatchBytes: s.batchMaxBytes });
    const acks = new PubAckCollector(this.deps.nats, { stream: s.stream, timeoutMs: s.publishTimeoutMs });
    this.acks = acks;
    // NATS is back: partitions backing off after failed publishes retry now rather than at their next backoff,
    // and so does ensuring the stream.
    acks.onReconnect(() => {
      for (const partition of this.partitions) partition.retryNow.set();
      this.streamRetryNow.set();
    });
    const stream: PartitionStream = {
      ready: (signal) => this.streamReady(signal),
      lost: () => this.streamLost(),
      storedEvents: (partition, from, since) =>
        acks.whileConnected(() => findStoredEvents(this.deps.nats, s.stream, partition, from, s.publishTimeoutMs, since)),
    };
    const publisher = new JetStreamPublisher(this.acks, {
      stream: s.stream,
      subjectPrefix: s.subjectPrefix,
      messageHeaders: s.messageHeaders,
      cloudEventsSource: s.cloudEventsSource ?? defaultCloudEventsSource(s.schema),
      sendWindow: s.publishWindow ?? DEFAULT_PUBLISH_WINDOW,
    });
    const balancer = new PartitionBalancer({
      pool: leasePool,
      schema: s.schema,
      instanceId: s.instanceId,
      partitions: count,
      leaseMs: s.leaseMs,
      intervalMs: s.renewMs,
      logger: this.logger,
      onPartitionCount: (partitions) => void this.repartition(partitions),
      onDecision: (decision) => {
        for (const partition of decision.release) void this.handOver(partition, 'rebalance');
        for (const partition of decision.acquire) this.electors[partition]?.poke();
      },
    });
    this.balancer = balancer;
    const heartbeatFailures = new FailureLog(this.logger, 'lease heartbeats');
    const publishFailures = new FailureLog(this.logger, 'publishing');
    this.makePartition = (partition) => {
      const elector = new LeaseElector({
        heartbeatFailures,
        pool: leasePool,
        schema: s.schema,
        partition,
        instanceId: s.instanceId,
        leaseMs: s.leaseMs,
        renewMs: s.renewMs,
        mayAcquire: () => balancer.wants(partition),
        // Known once the stream was looked at (ensured): every message sent later is stored after it.
        streamCheckBound: () => (this.streamSeqKnown ? acks.highestSeq + 1 : null),
        logger: this.logger,
      });
      elector.on('stepDownRequested', (epoch) => void this.handOver(partition, 'requested', epoch));
      elector.on('elected', (epoch) => observer.leadershipChanged(partition, epoch));
      elector.on('lost', () => observer.leadershipChanged(partition, null));
      return { elector, relay: new PartitionRelay(elector, reader, publisher, stream, s.instanceId, s, this.logger, observer, publishFailures, standbys) };
    };
    for (let partition = 0; partition < count; partition++) {
      const { elector, relay } = this.makePartition(partition);
      this.electors.push(elector);
      this.partitions.push(relay);
    }
    const channel = outboxTables(s.schema).channel;
    this.listener = new PgListener(
      listenClientFactory(pool, this.deps.listenConnection),
      channel,
      (payload) => this.onNotify(payload),
      () => this.lookAgain(),
      this.logger,
    );
    this.listener.start();
    // Before joining, so a partition this instance takes is not first held up by the stream's round trips.
    void this.ensureStreamOnce();
    await balancer.start();
    for (const elector of this.electors) elector.start();
    // One sweeper per schema is enough: the leader of partition 0 runs it.
    const first = this.electors[0];
    this.sweeper = new RetentionSweeper(
      async () => {
        const deleted = await sweepOutbox(pool, s.schema, s.retention);
        observer.retentionDeleted('outbox', deleted.published);
        observer.retentionDeleted('outbox_dead_letters', deleted.deadLetters);
        return deleted;
      },
      s.retention.intervalMs,
      () => first?.isLeading() ?? false,
      childLogger(this.logger, { schema: s.schema, table: 'outbox' }),
    );
    this.sweeper.start();
    this.logger.info({ partitions: count, schema: s.schema, stream: s.stream, messageHeaders: s.messageHeaders ?? 'outbox' }, 'relay started');
  }

  /** Graceful: stop after in-flight batches (acknowledged events are marked), then release every lease. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.repartitioning;
    await this.sweeper?.stop();
    // Leave first: when the released leases are announced, the others already count without this instance.
    await this.balancer?.stop();
    await Promise.all(this.partitions.map((p) => p.stop()));
    this.acks?.close();
    await Promise.all(this.electors.map((e) => e.stop({ release: true })));
    await this.listener?.stop();
    this.logger.info({}, 'relay stopped');
  }

  /**
   * The schema's partition count changed (`configurePartitions`, which drained the outbox first): campaign for
   * the new partitions, or stop and release the removed ones, so that no partition is left without a publisher
   * and no removed one keeps a leader. Changes are applied one after the other.
   */
  private repartition(count: number): Promise<void> {
    this.repartitioning = this.repartitioning.then(async () => {
      const before = this.partitions.length;
      if (!this.started || !this.makePartition || count === before) return;
      if (count > before) {
        for (let partition = before; partition < count; partition++) {
          const { elector, relay } = this.makePartition(partition);
          this.electors.push(elector);
          this.partitions.push(relay);
          elector.start();
        }
      } else {
        const removed = this.partitions.splice(count);
        const electors = this.electors.splice(count);
        await Promise.all(removed.map((p) => p.stop()));
        await Promise.all(electors.map((e) => e.stop({ release: true })));
      }
      this.balancer?.setPartitions(count);
      this.balancer?.tickNow();
      this.logger.info({ from: before, to: count }, 'partition count changed; leading accordingly');
    });
    return this.repartitioning;
  }

  /**
   * Graceful switchover: every partition this instance leads finishes its batch in flight and releases its lease
   * (another instance takes over at once); this instance campaigns again only after one lease duration.
   */
  stepDown(): Promise<Array<{ partition: number; epoch: number }>> {
    // A repeated request (an operator retrying POST /step-down) joins the step-down under way.
    this.steppingDown ??= (async () => {
      await this.yieldToOthers();
      const given = await Promise.all(this.partitions.map(async (p) => ({ partition: p.partition, epoch: await p.stepDown() })));
      const released = given.filter((g): g is { partition: number; epoch: number } => g.epoch !== null);
      this.logger.info({ released }, 'stepped down');
      return released;
    })().finally(() => (this.steppingDown = null));
    return this.steppingDown;
  }

  /**
   * Gracefully hands one partition over: after a step-down request (then this instance yields first, so the
   * partition goes elsewhere) or because it holds more than its fair share.
   */
  private async handOver(partition: number, reason: 'requested' | 'rebalance', epoch?: number): Promise<void> {
    const relay = this.partitions[partition];
    // Repeated requests while a hand-over runs (every renewal, every balance check) change nothing.
    if (!relay || relay.handingOverEpoch !== null) return;
    try {
      if (reason === 'requested') await this.yieldToOthers();
      const released = await relay.stepDown(epoch);
      if (released != null) this.logger.info({ partition, epoch: released, reason }, 'partition handed over');
    } catch (error) {
      this.logger.warn({ err: error, partition, reason }, 'hand-over failed; the lease stays or expires');
    }
  }

  private async yieldToOthers(): Promise<void> {
    await this.balancer?.yieldFor(this.settings.leaseMs).catch((error: unknown) => {
      this.logger.warn({ err: error }, 'cannot mark this instance as yielding; it may take the partitions back');
    });
  }

  /** Rows deleted by retention since start (while this instance led partition 0). */
  retentionTotals(): { published: number; deadLetters: number; sweeps: number } {
    const deleted = this.sweeper?.deleted ?? {};
    return { published: deleted.published ?? 0, deadLetters: deleted.deadLetters ?? 0, sweeps: deleted.sweeps ?? 0 };
  }

  status(): RelayStatus {
    const partitions = this.electors.map((e, i): PartitionStatus => {
      const leading = e.isLeading();
      const term = leading ? this.progress?.progress(e.partition) : null;
      return {
        partition: e.partition,
        leading,
        epoch: e.epoch,
        deadLettered: this.partitions[i]?.deadLettered ?? 0,
        leadingForMs: term?.leadingForMs ?? null,
        renewedAgoMs: leading ? e.renewedAgoMs : null,
        publishedAgoMs: term?.publishedAgoMs ?? null,
      };
    });
    const snapshot: BalancerSnapshot | null = this.balancer?.snapshot ?? null;
    return {
      instanceId: this.settings.instanceId,
      leading: partitions.some((p) => p.leading),
      partitions,
      balance: snapshot && { target: snapshot.target, members: snapshot.members.map((m) => m.instanceId).sort() },
      natsConnected: this.acks ? this.acks.isConnected : null,
      ...(this.standbys && { standbyFlush: this.standbys.status() }),
    };
  }

  /**
   * The LISTEN connection is (again) up: whatever was said while it was down is lost (a released lease, a joined
   * member, a step-down request, new events). Look at everything again rather than wait for the periodic checks,
   * which may be far apart: a lease released meanwhile would otherwise stay free until then.
   */
  private lookAgain(): void {
    this.balancer?.tickNow();
    for (const elector of this.electors) elector.checkNow();
    for (const partition of this.partitions) partition.wake.set();
  }

  private onNotify(payload: string): void {
    const signal = parseRelaySignal(payload);
    switch (signal.kind) {
      case 'partitions':
        void this.repartition(signal.count);
        return;
      case 'released': {
        // Ours to take by the last look: campaign at once; the look that follows settles the rest.
        const held = this.electors.filter((e) => e.epoch !== null).length;
        if (this.balancer?.claimReleased(signal.partition, held)) this.electors[signal.partition]?.poke();
        this.balancer?.tickNow();
        return;
      }
      case 'joined':
        // A member joined: hand over the surplus now, not at the next periodic look.
        this.balancer?.tickNow();
        return;
      case 'step-down':
        this.electors[signal.partition]?.checkNow();
        return;
      case 'wake':
        for (const partition of this.partitions) partition.wake.set();
    }
  }

  /**
   * Ensures the stream (once per process, and again after `streamLost`), retrying with backoff while NATS is
   * unreachable; never rejects.
   */
  private ensureStreamOnce(): Promise<void> {
    this.streamReadyPromise ??= (async () => {
      this.streamEnsuring = true;
      const backoff = new Backoff(this.settings.backoffMinMs, this.settings.backoffMaxMs);
      const failures = new FailureLog(childLogger(this.logger, { stream: this.settings.stream }), 'ensuring the stream');
      try {
        for (;;) {
          try {
            const jsm = await jetstreamManager(this.deps.nats);
            const { outcome, differences, lastSeq } = await ensureStreamReport(jsm, {
              name: this.settings.stream,
              subjectPrefix: this.settings.subjectPrefix,
              duplicateWindowMs: this.settings.duplicateWindowMs,
              minDuplicateWindowMs: this.settings.leaseMs * 10,
              management: this.settings.streamManagement,
              limits: this.settings.streamLimits,
            });
            // A new stream numbers from 1 again: acknowledgements of the old one say nothing about where it stores.
            if (outcome === 'created') this.acks?.resetHighestSeq();
            this.acks?.noteStreamSeq(lastSeq);
            this.streamSeqKnown = true;
            failures.succeeded({ outcome });
            // Never applied to an existing stream: its owner may have chosen them (storage cannot change anyway).
            if (differences.length > 0) {
              this.logger.warn({ stream: this.settings.stream, differences }, 'the stream\'s limits differ from the configured ones; left as they are');
            }
            return;
          } catch (error) {
            if (!this.started) return;
            if (error instanceof StreamConfigError) {
              this.streamConfigError = error;
              this.logger.error({ stream: error.stream, problem: error.problem, setting: error.setting, expected: error.expected, found: error.found, otherStream: error.otherStream }, error.message);
              this.deps.onStreamConfigError?.(error);
              // Never settles: the partitions wait for a stream that fits, and publish nothing meanwhile.
              await new Promise<never>(() => undefined);
            }
            const wait = backoff.next();
            failures.failed(error, { retryInMs: wait });
            await this.streamRetryNow.wait(wait);
          }
        }
      } finally {
        this.streamEnsuring = false;
      }
    })();
    return this.streamReadyPromise;
  }

  /**
   * A publish found nothing listening on the stream's subjects: the stream was deleted (or never created) under a
   * running relay. Ensure it again, once for all partitions; those that failed wait for it at their next try.
   */
  private streamLost(): void {
    const current = this.streamReadyPromise;
    if (!current || this.streamEnsuring) return;
    this.logger.warn({ stream: this.settings.stream }, 'no stream answers for the relay\'s subjects; ensuring it again');
    this.streamReadyPromise = null;
    this.streamSeqKnown = false;
    void this.ensureStreamOnce();
  }

  /** The stream is ensured (or `signal` aborts first: the term ended while NATS was unreachable). */
  private streamReady(signal: AbortSignal): Promise<void> {
    return Promise.race([
      this.ensureStreamOnce(),
      new Promise<void>((_, reject) => {
        if (signal.aborted) reject(new Error('stopping'));
        signal.addEventListener('abort', () => reject(new Error('stopping')), { once: true });
      }),
    ]);
  }
}

/** How the LISTEN connection is opened: as configured, else to the pool's primary, else with the pool's settings. */
function listenClientFactory(pool: Pool, configured: ClientConfig | undefined): () => Promise<Client> {
  if (configured === undefined && pool instanceof PrimaryPool) {
    const applicationName = (pool.options as ClientConfig).application_name;
    return () => pool.primary.connectClient({ ...(applicationName !== undefined && { application_name: `${applicationName}-listen` }) });
  }
  const config = configured ?? (pool as unknown as { options: ClientConfig }).options;
  return () => openClient(config);
}
