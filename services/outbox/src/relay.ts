import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { ClientConfig, Pool } from 'pg';
import type { Logger } from 'pino';
import { Backoff, delay } from './backoff';
import type { RelaySettings } from './config';
import { LeaseElector } from './lease';
import { PgListener } from './listener';
import { readPartitionCount } from './migrate';
import { outboxTables } from './names';
import { PartitionRelay } from './partition-relay';
import { ensureStream, JetStreamPublisher } from './publisher';
import { OutboxReader } from './reader';
import { RetentionSweeper } from './retention';

export interface OutboxRelayDeps {
  pool: Pool;
  nats: NatsConnection;
  logger: Logger;
  /** Connection settings for the LISTEN connection; defaults to the pool's. */
  listenConnection?: ClientConfig;
}

export interface PartitionStatus {
  partition: number;
  leading: boolean;
  epoch: number | null;
  /** Events this instance moved to the relay dead letters for this partition since it started. */
  deadLettered: number;
}

export interface RelayStatus {
  instanceId: string;
  /** Leads at least one partition. */
  leading: boolean;
  partitions: PartitionStatus[];
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
  private streamReadyPromise: Promise<void> | null = null;
  private started = false;

  constructor(
    private readonly deps: OutboxRelayDeps,
    readonly settings: RelaySettings,
  ) {
    this.logger = deps.logger.child({ component: 'relay', instanceId: settings.instanceId });
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const { pool } = this.deps;
    const s = this.settings;
    const count = await readPartitionCount(pool, s.schema);
    const reader = new OutboxReader(pool, s.schema);
    const publisher = new JetStreamPublisher(jetstream(this.deps.nats), {
      stream: s.stream,
      subjectPrefix: s.subjectPrefix,
      timeoutMs: s.publishTimeoutMs,
    });
    for (let partition = 0; partition < count; partition++) {
      const elector = new LeaseElector({
        pool,
        schema: s.schema,
        partition,
        instanceId: s.instanceId,
        leaseMs: s.leaseMs,
        renewMs: s.renewMs,
        logger: this.logger,
      });
      this.electors.push(elector);
      this.partitions.push(
        new PartitionRelay(elector, reader, publisher, (signal) => this.streamReady(signal), s.instanceId, s, this.logger),
      );
    }
    const channel = outboxTables(s.schema).channel;
    const connection = this.deps.listenConnection ?? (pool as unknown as { options: ClientConfig }).options;
    this.listener = new PgListener(connection, channel, (payload) => this.onNotify(payload), this.logger);
    this.listener.start();
    for (const elector of this.electors) elector.start();
    // One sweeper per schema is enough: the leader of partition 0 runs it.
    const first = this.electors[0];
    this.sweeper = new RetentionSweeper(pool, s.schema, s.retention, () => first?.isLeading() ?? false, this.logger);
    this.sweeper.start();
    this.logger.info({ partitions: count, schema: s.schema, stream: s.stream }, 'relay started');
  }

  /** Graceful: stop after in-flight batches (acknowledged events are marked), then release every lease. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.sweeper?.stop();
    await Promise.all(this.partitions.map((p) => p.stop()));
    await Promise.all(this.electors.map((e) => e.stop({ release: true })));
    await this.listener?.stop();
    this.logger.info('relay stopped');
  }

  /**
   * Graceful switchover: every partition this instance leads finishes its batch in flight and releases its lease
   * (another instance takes over at once); this instance campaigns again only after one lease duration.
   */
  async stepDown(): Promise<Array<{ partition: number; epoch: number }>> {
    const given = await Promise.all(this.partitions.map(async (p) => ({ partition: p.partition, epoch: await p.stepDown() })));
    const released = given.filter((g): g is { partition: number; epoch: number } => g.epoch !== null);
    this.logger.info({ released }, 'stepped down');
    return released;
  }

  /** Rows deleted by retention since start (while this instance led partition 0). */
  retentionTotals(): { published: number; deadLetters: number; sweeps: number } {
    return { ...(this.sweeper?.deleted ?? { published: 0, deadLetters: 0, sweeps: 0 }) };
  }

  status(): RelayStatus {
    const partitions = this.electors.map((e, i) => ({
      partition: e.partition,
      leading: e.isLeading(),
      epoch: e.epoch,
      deadLettered: this.partitions[i]?.deadLettered ?? 0,
    }));
    return { instanceId: this.settings.instanceId, leading: partitions.some((p) => p.leading), partitions };
  }

  private onNotify(payload: string | null): void {
    if (payload?.startsWith('released:')) {
      this.electors[Number(payload.slice('released:'.length))]?.poke();
      return;
    }
    if (payload?.startsWith('step-down:')) {
      this.electors[Number(payload.slice('step-down:'.length))]?.checkNow();
      return;
    }
    for (const partition of this.partitions) partition.wake.set();
  }

  /** Ensures the stream once per process, retrying with backoff while NATS is unreachable. */
  private streamReady(signal: AbortSignal): Promise<void> {
    this.streamReadyPromise ??= (async () => {
      const backoff = new Backoff(this.settings.backoffMinMs, this.settings.backoffMaxMs);
      for (;;) {
        try {
          const jsm = await jetstreamManager(this.deps.nats);
          await ensureStream(jsm, {
            name: this.settings.stream,
            subjectPrefix: this.settings.subjectPrefix,
            duplicateWindowMs: this.settings.duplicateWindowMs,
          });
          return;
        } catch (error) {
          if (!this.started) return;
          const wait = backoff.next();
          this.logger.warn({ err: error, stream: this.settings.stream, retryInMs: wait }, 'cannot ensure stream; retrying');
          await delay(wait);
        }
      }
    })();
    return Promise.race([
      this.streamReadyPromise,
      new Promise<void>((_, reject) => {
        if (signal.aborted) reject(new Error('stopping'));
        signal.addEventListener('abort', () => reject(new Error('stopping')), { once: true });
      }),
    ]);
  }
}
