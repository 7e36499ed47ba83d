/**
 * The system under test, all private to one run: a Postgres and a nats-server on free ports (so they can be
 * killed without touching the machine's shared servers or other test files), a TCP proxy in front of NATS (so
 * the network can fail too) and N relay processes built from services/relay (dist), each with its own /status
 * port.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { migrateOutbox, type RelayStatus } from '@outbox-relay/outbox';
import { Pool } from 'pg';
import { listeningPort, PrivateNatsServer, waitFor, PrivatePostgres, getJson, startService, type ServiceProcess, TcpProxy } from '@outbox-relay/test-support';
import type { ChaosOptions } from './options';

export const NAMES = {
  /** Outbox tables. */
  schema: 'outbox',
  /** Business rows: chaos.accounts(id, version). */
  business: 'chaos',
  stream: 'CHAOS',
  subjectPrefix: 'chaos',
} as const;

/** Milliseconds since the run started: every timestamp in a report is on this clock. */
export interface RunClock {
  startedAt: Date;
  now(): number;
}

export function startClock(): RunClock {
  const startedAt = new Date();
  const origin = performance.now();
  return { startedAt, now: () => Math.round(performance.now() - origin) };
}

/** One relay process that the harness started. */
export interface RelayProcess {
  slot: number;
  instanceId: string;
  /** 0 until the process logged the port it took. */
  port: number;
  proc: ServiceProcess;
  /** Set before the harness signals it, so its exit is not counted against the relay. */
  expectedExit: boolean;
  startedAtMs: number;
  exitedAtMs?: number;
}

/** A relay process that exited without the harness asking it to. */
export interface RelayExit {
  instanceId: string;
  atMs: number;
  code: number | null;
  signal: string | null;
  stderrTail: string;
}

/** A relay position: restarted processes take the same slot with a new instance id (leases are per instance). */
export class RelaySlot {
  generation = 0;
  current: RelayProcess | null = null;
  frozen = false;
  crashes = 0;
  private restartTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly index: number,
    private readonly cluster: ChaosCluster,
  ) {}

  get instanceId(): string {
    return this.current?.instanceId ?? `relay${this.index}.-`;
  }

  get running(): boolean {
    const child = this.current?.proc.child;
    return !!child && child.exitCode === null && child.signalCode === null;
  }

  async start(): Promise<void> {
    this.cancelRestart();
    this.generation++;
    const instanceId = `relay${this.index}.${this.generation}`;
    // Port 0: the relay takes a free port and logs it (one picked in advance could be taken meanwhile).
    const proc = startService('services/relay/dist/main.js', this.cluster.relayEnv(instanceId, 0));
    const record: RelayProcess = { slot: this.index, instanceId, port: 0, proc, expectedExit: false, startedAtMs: this.cluster.clock.now() };
    this.current = record;
    this.frozen = false;
    this.cluster.processes.push(record);
    void proc.exited.then((code) => this.onExit(record, code));
    record.port = await listeningPort(proc, 'health endpoints listening');
  }

  /** SIGKILL (works on a frozen process too); resolves once it is gone. */
  async kill(): Promise<void> {
    const record = this.current;
    if (!record || !this.running) return;
    record.expectedExit = true;
    await record.proc.stop('SIGKILL');
    this.frozen = false;
  }

  freeze(): void {
    if (!this.running) return;
    this.current!.proc.child.kill('SIGSTOP');
    this.frozen = true;
  }

  thaw(): void {
    if (!this.running) return;
    this.current!.proc.child.kill('SIGCONT');
    this.frozen = false;
  }

  /** SIGTERM, as an orchestrator stops a pod; SIGKILL after `boundMs`. Returns the exit code (0 = clean). */
  async stopGracefully(boundMs: number): Promise<number | null> {
    const record = this.current;
    this.cancelRestart();
    if (!record || !this.running) return record?.proc.child.exitCode ?? null;
    record.expectedExit = true;
    if (this.frozen) this.thaw();
    const timer = setTimeout(() => record.proc.child.kill('SIGKILL'), boundMs);
    const code = await record.proc.stop('SIGTERM');
    clearTimeout(timer);
    return code;
  }

  /** The process's own view (/status); undefined while it is frozen, down or slow to answer. */
  async status(): Promise<RelayStatus | undefined> {
    if (!this.running || this.frozen) return undefined;
    return getJson<RelayStatus>(`http://127.0.0.1:${this.current!.port}/status`);
  }

  async ready(boundMs: number): Promise<void> {
    await waitFor(`${this.instanceId} ready`, async () => {
      if (!this.running) throw new Error(`${this.instanceId} exited while starting:\n${this.current?.proc.stderr().slice(-2000) ?? ''}`);
      return (await getJson(`http://127.0.0.1:${this.current!.port}/readyz`)) !== undefined || undefined;
    }, boundMs, 50);
  }

  cancelRestart(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  private onExit(record: RelayProcess, code: number | null): void {
    record.exitedAtMs = this.cluster.clock.now();
    if (record.expectedExit) return;
    const signal = record.proc.child.signalCode;
    this.cluster.exits.push({ instanceId: record.instanceId, atMs: record.exitedAtMs, code, signal, stderrTail: record.proc.stderr().slice(-3000) });
    this.cluster.log(`${record.instanceId} exited on its own (code ${code}, signal ${signal})`);
    // Like a supervisor (Kubernetes) would, so the run goes on and the audit sees what the crash cost; growing
    // delays keep a crash loop from eating the machine.
    if (this.current !== record || !this.cluster.autoRestart) return;
    this.crashes++;
    const wait = Math.min(1000 * 2 ** (this.crashes - 1), 8000);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.cluster.autoRestart && !this.running) void this.start().catch((error: unknown) => this.cluster.log(`restart of slot ${this.index} failed: ${String(error)}`));
    }, wait);
  }
}

/** A part of the cluster, which exists between start() and close(). */
function started<T>(part: T | null): T {
  if (part === null) throw new Error('cluster not started');
  return part;
}

export class ChaosCluster {
  readonly relays: RelaySlot[] = [];
  /** Every relay process started, including killed and crashed ones (their logs are audited too). */
  readonly processes: RelayProcess[] = [];
  readonly exits: RelayExit[] = [];
  /** Restart relays that exit on their own (off during teardown). */
  autoRestart = true;
  natsUp = false;
  pg: PrivatePostgres | null = null;
  nats: PrivateNatsServer | null = null;
  /** The relays reach NATS only through it, so the network can fail without the server failing. */
  proxy: TcpProxy | null = null;
  /** The Postgres log, kept when the server's directory is removed. */
  private pgLog: string | undefined;
  /** The harness's own connections (probes, poison rows, partition changes, audit). */
  pool: Pool | null = null;

  private constructor(
    readonly options: ChaosOptions,
    readonly clock: RunClock,
  ) {}

  log(line: string): void {
    this.options.log?.(`[t+${(this.clock.now() / 1000).toFixed(1)}s] ${line}`);
  }

  static async start(options: ChaosOptions, clock: RunClock): Promise<ChaosCluster> {
    const cluster = new ChaosCluster(options, clock);
    unclosed.add(cluster);
    try {
      await cluster.setUp();
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  get db(): Pool {
    return started(this.pool);
  }

  get postgres(): PrivatePostgres {
    return started(this.pg);
  }

  get natsServer(): PrivateNatsServer {
    return started(this.nats);
  }

  get natsProxy(): TcpProxy {
    return started(this.proxy);
  }

  private async setUp(): Promise<void> {
    const o = this.options;
    // Commit timestamps give lag and drain figures measured from each event's real commit, not from its
    // transaction's start (a long transaction's rows are "old" the moment they commit).
    this.pg = await PrivatePostgres.start({ track_commit_timestamp: 'on' });
    this.nats = await PrivateNatsServer.start();
    this.natsUp = true;
    this.proxy = await TcpProxy.start(this.nats.port);
    this.pool = new Pool({ connectionString: this.pg.url, max: 4, application_name: 'chaos-harness' });
    this.pool.on('error', () => undefined);
    // The library's configurePartitions checks a client out; a connection lost under it must not crash the harness.
    this.pool.on('connect', (client) => client.on('error', () => undefined));
    await migrateOutbox({ pool: this.pool, schema: NAMES.schema, partitions: o.partitions });
    await this.pool.query(`CREATE SCHEMA ${NAMES.business}`);
    await this.pool.query(`CREATE TABLE ${NAMES.business}.accounts (id text PRIMARY KEY, version integer NOT NULL DEFAULT 0)`);
    await this.pool.query(`INSERT INTO ${NAMES.business}.accounts (id) SELECT unnest($1::text[])`, [aggregateIds(o.aggregates)]);
    // Created here rather than by the relays so that it has a max_msg_size (the relays keep an existing stream's).
    const nc = await connect({ servers: this.nats.url, name: 'chaos-setup' });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({
        name: NAMES.stream,
        subjects: [`${NAMES.subjectPrefix}.>`],
        duplicate_window: nanos(o.duplicateWindowMs),
        max_msg_size: o.maxMsgSize,
      });
    } finally {
      await nc.close();
    }
    for (let i = 0; i < o.relays; i++) this.relays.push(new RelaySlot(i, this));
    for (const slot of this.relays) await slot.start();
    await Promise.all(this.relays.map((slot) => slot.ready(60_000)));
    await waitFor('every partition led', async () => {
      const leaders = await this.leaders();
      return leaders.size === o.partitions || undefined;
    }, 60_000, 50);
  }

  relayEnv(instanceId: string, port: number): Record<string, string> {
    const o = this.options;
    return {
      DATABASE_URL: this.postgres.url,
      NATS_URL: this.natsProxy.url,
      OUTBOX_SCHEMA: NAMES.schema,
      OUTBOX_STREAM: NAMES.stream,
      OUTBOX_SUBJECT_PREFIX: NAMES.subjectPrefix,
      // Empty = unset: the run's settings win over anything in the harness's own environment.
      OUTBOX_PARTITIONS: '',
      OUTBOX_MIGRATE: 'false',
      NATS_CREDS_FILE: '',
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
      OTEL_TRACES_EXPORTER: 'none',
      OUTBOX_LEASE_MS: String(o.leaseMs),
      OUTBOX_RENEW_MS: String(o.renewMs),
      OUTBOX_DUPLICATE_WINDOW_MS: String(o.duplicateWindowMs),
      OUTBOX_POLL_MS: String(o.pollMs),
      OUTBOX_PUBLISH_TIMEOUT_MS: String(o.publishTimeoutMs),
      OUTBOX_BACKOFF_MIN_MS: '50',
      OUTBOX_BACKOFF_MAX_MS: '1000',
      OUTBOX_MAX_PUBLISH_ATTEMPTS: String(o.maxPublishAttempts),
      // Published rows must stay for the audit (the database is the truth of what committed).
      OUTBOX_RETENTION_MS: String(30 * 24 * 3_600_000),
      RELAY_HTTP_PORT: String(port),
      RELAY_INSTANCE_ID: instanceId,
      RELAY_DB_POOL_MAX: '4',
      SHUTDOWN_TIMEOUT_MS: '10000',
      LOG_LEVEL: 'info',
    };
  }

  /** Running, unfrozen relays. */
  live(): RelaySlot[] {
    return this.relays.filter((slot) => slot.running && !slot.frozen);
  }

  /** Partition → instance id, as the live relays report it on /status (what publishing depends on). */
  async leaders(except?: RelaySlot): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    const slots = this.live().filter((slot) => slot !== except);
    const statuses = await Promise.all(slots.map((slot) => slot.status()));
    for (const status of statuses) {
      for (const p of status?.partitions ?? []) if (p.leading) out.set(p.partition, status!.instanceId);
    }
    return out;
  }

  async stopNats(): Promise<void> {
    this.natsUp = false;
    await this.natsServer.stop();
  }

  async startNats(): Promise<void> {
    await this.natsServer.start();
    this.natsUp = true;
  }

  /** Everything back up: after a fault that failed half-way, and before the final drain. */
  async heal(): Promise<void> {
    if (this.postgres.pid === null) await this.postgres.start();
    if (!this.natsUp) await this.startNats();
    this.natsProxy.restore();
    for (const slot of this.relays) {
      if (slot.frozen) slot.thaw();
      if (!slot.running) await slot.start();
    }
  }

  /** Each relay process's log lines and stderr, and the Postgres server log, as files in `dir`. */
  writeLogs(dir: string): void {
    mkdirSync(dir, { recursive: true });
    for (const p of this.processes) {
      const lines = p.proc.logs.map((line) => JSON.stringify(line)).join('\n');
      writeFileSync(path.join(dir, `${p.instanceId}.log`), `${lines}\n--- stderr ---\n${p.proc.stderr()}`);
    }
    if (this.pg) writeFileSync(path.join(dir, 'postgres.log'), this.pgLog ?? this.pg.log());
  }

  /** Kills everything this run started and removes the servers' directories. Safe after a partial start. */
  async close(): Promise<void> {
    this.autoRestart = false;
    for (const slot of this.relays) slot.cancelRestart();
    await Promise.all(this.relays.map((slot) => slot.kill().catch(() => undefined)));
    await this.pool?.end().catch(() => undefined);
    await this.proxy?.close().catch(() => undefined);
    await this.nats?.destroy().catch(() => undefined);
    this.pgLog ??= this.pg?.log();
    await this.pg?.destroy().catch(() => undefined);
    unclosed.delete(this);
  }

  /**
   * For a process that exits without closing (a crash of the harness itself): the relays and nats-server are its
   * children and would live on. Synchronous, as an 'exit' handler must be. (The private Postgres has its own.)
   */
  killSync(): void {
    for (const p of this.processes) {
      if (p.proc.child.exitCode === null && p.proc.child.signalCode === null) p.proc.child.kill('SIGKILL');
    }
    const storeDir = this.nats?.storeDir;
    if (!storeDir) return;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(storeDir)) process.kill(Number(entry), 'SIGKILL');
      } catch {
        // Gone, or not ours to read.
      }
    }
    rmSync(storeDir, { recursive: true, force: true });
  }
}

const unclosed = new Set<ChaosCluster>();
process.once('exit', () => {
  for (const cluster of unclosed) cluster.killSync();
});

export function aggregateIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `acct-${String(i).padStart(3, '0')}`);
}
