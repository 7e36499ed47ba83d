import { jetstreamManager, StorageType, type JetStreamManager, type PeerInfo, type StreamInfo } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { uniqueName } from './env';
import { PrivateNatsServer, PRIVATE_NATS_ORPHANS } from './nats';
import { reapOrphans } from './orphans';
import { freePort } from './ports';
import { waitFor } from './wait';

/**
 * How long the cluster's own requests wait. A request that reaches no leader (an election) is never answered, so the
 * polls of the wait* methods see a new leader at most this much after it is elected.
 */
const ADMIN_TIMEOUT_MS = 1000;

/** One server of a PrivateNatsCluster: its process (client port, store dir) and its place in the cluster. */
export interface NatsClusterNode {
  /** Its `server_name`, which stream info reports as `cluster.leader` and in `cluster.replicas`. */
  readonly name: string;
  readonly clusterPort: number;
  /** Its HTTP monitoring port (`/healthz`, `/jsz`). */
  readonly monitorPort: number;
  readonly server: PrivateNatsServer;
}

export interface PrivateNatsClusterOptions {
  /** Servers in the cluster (default 3, what an R3 stream needs). */
  size?: number;
  /** How long start() waits for JetStream to place a stream on every server (default 60 s: a loaded host). */
  readyTimeoutMs?: number;
}

/**
 * A JetStream cluster of its own (nats-server processes on loopback, each with a client port, a cluster port and a
 * store dir), for tests that kill, stop and restart servers under a relay, as production runs NATS: three servers,
 * R3 streams. Each node is a PrivateNatsServer with the cluster flags, so its directory is reaped like any private
 * server's when its owner dies (orphans.ts). The cluster keeps one connection of its own (to every server) to ask
 * where a stream's leader is.
 */
export class PrivateNatsCluster {
  /** When each node's current process started (performance.now()): a replica must be heard from after that. */
  private readonly startedAt: number[];

  private constructor(
    readonly name: string,
    readonly nodes: readonly NatsClusterNode[],
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    startedAt: number,
  ) {
    this.startedAt = nodes.map(() => startedAt);
  }

  static async start(options: PrivateNatsClusterOptions = {}): Promise<PrivateNatsCluster> {
    reapOrphans(PRIVATE_NATS_ORPHANS);
    const size = options.size ?? 3;
    const name = uniqueName('natscluster');
    const ports: Array<{ client: number; cluster: number; monitor: number }> = [];
    for (let i = 0; i < size; i++) ports.push({ client: await freePort(), cluster: await freePort(), monitor: await freePort() });
    const nodes = ports.map((port, i): NatsClusterNode => {
      const routes = ports.filter((_, j) => j !== i).map((other) => `nats://127.0.0.1:${other.cluster}`);
      const serverName = `${name}_n${i}`;
      const args = ['--server_name', serverName, '--cluster_name', name, '--cluster', `nats://127.0.0.1:${port.cluster}`, '--routes', routes.join(','), '-m', String(port.monitor)];
      return { name: serverName, clusterPort: port.cluster, monitorPort: port.monitor, server: new PrivateNatsServer(port.client, args) };
    });
    let nc: NatsConnection | null = null;
    try {
      const startedAt = performance.now();
      await Promise.all(nodes.map((node) => node.server.start()));
      nc = await connect({ servers: nodes.map((node) => node.server.url), name: `${name} admin`, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
      const cluster = new PrivateNatsCluster(name, nodes, nc, await jetstreamManager(nc, { timeout: ADMIN_TIMEOUT_MS, checkAPI: false }), startedAt);
      const readyMs = options.readyTimeoutMs ?? 60_000;
      await Promise.all(nodes.map((_, i) => cluster.waitForHealthy(i, readyMs)));
      await cluster.waitForJetStream(readyMs);
      return cluster;
    } catch (error) {
      await nc?.close().catch(() => undefined);
      await Promise.all(nodes.map((node) => node.server.destroy()));
      throw error;
    }
  }

  /** Every server's client URL, comma-separated: what NATS_URL (and connectNats) takes for a cluster. */
  get urls(): string {
    return this.nodes.map((node) => node.server.url).join(',');
  }

  /**
   * Until the cluster can place a stream on every server: a meta leader is elected and every peer is known to it.
   * A stream of `size` replicas in memory, created and deleted again, proves both (account info alone answers as
   * soon as two servers elected a meta leader, before the third joined).
   */
  private async waitForJetStream(timeoutMs: number): Promise<void> {
    const probe = `${this.name}_probe`.toUpperCase();
    await waitFor(`a JetStream meta leader and ${this.nodes.length} peers in cluster ${this.name}`, async () => {
      try {
        await this.jsm.getAccountInfo();
        await this.jsm.streams.add({ name: probe, subjects: [`${this.name}.probe`], num_replicas: this.nodes.length, storage: StorageType.Memory });
        await this.jsm.streams.delete(probe);
        return true;
      } catch {
        return undefined;
      }
    }, timeoutMs, 200);
  }

  /**
   * Waits until the JetStream meta group has a leader (account info is answered by it): what creating streams and
   * consumers needs, and what a kill of the meta leader takes away for an election.
   */
  async waitForMetaLeader(timeoutMs = 60_000): Promise<void> {
    await waitFor(`a JetStream meta leader in cluster ${this.name}`, () => this.jsm.getAccountInfo().then(() => true, () => undefined), timeoutMs, 100);
  }

  /** SIGKILL of one server (a crash: no leadership handed over, nothing flushed). */
  async kill(node: number): Promise<void> {
    await this.node(node).server.stop('SIGKILL');
  }

  /** Graceful shutdown of one server (SIGTERM), as a rolling update stops it. */
  async stop(node: number): Promise<void> {
    await this.node(node).server.stop('SIGTERM');
  }

  /**
   * Starts a killed or stopped server again, on the same ports and with the same store dir, and waits until it is
   * healthy (see waitForHealthy): only then may another server go, or the cluster can lose its meta leader for good
   * (seen on nats-server 2.9 when servers were restarted one after the other as soon as their streams looked current).
   */
  async restart(node: number, timeoutMs = 60_000): Promise<void> {
    this.startedAt[node] = performance.now();
    await this.node(node).server.start();
    await this.waitForHealthy(node, timeoutMs);
  }

  /**
   * Until the server answers 200 on its `/healthz`: connected to the meta leader and current with it, and its
   * streams current (what a Kubernetes readiness probe of a NATS pod asks before a rollout moves on).
   */
  async waitForHealthy(node: number, timeoutMs = 60_000): Promise<void> {
    const url = `http://127.0.0.1:${this.node(node).monitorPort}/healthz`;
    await waitFor(`node ${node} healthy (${url})`, async () => {
      const answer = await fetch(url, { signal: AbortSignal.timeout(ADMIN_TIMEOUT_MS) }).catch(() => null);
      return answer?.status === 200 || undefined;
    }, timeoutMs, 100);
  }

  /** Starts every server that is down and waits until all are healthy: the cluster as a test found it. */
  async heal(timeoutMs = 60_000): Promise<void> {
    for (let node = 0; node < this.nodes.length; node++) {
      if (!this.node(node).server.running) await this.restart(node, timeoutMs);
    }
    await Promise.all(this.nodes.map((_, node) => this.waitForHealthy(node, timeoutMs)));
  }

  /** Stream info as the cluster answers it now (any server: the request goes to the stream's leader). */
  streamInfo(stream: string): Promise<StreamInfo> {
    return this.jsm.streams.info(stream);
  }

  /**
   * The node leading `stream` now, or null while none does (an election). Asked of each running server's monitoring
   * endpoint (`/jsz`), the node that says it leads being the leader: no JetStream request, which nobody answers during
   * an election, so an election's end is seen within a poll.
   */
  async streamLeader(stream: string): Promise<number | null> {
    const claims = await Promise.all(this.nodes.map((node, i) => (node.server.running ? this.leadsByItsOwnAccount(i, stream) : false)));
    const leader = claims.indexOf(true);
    return leader >= 0 ? leader : null;
  }

  /** Whether node `index` says it leads `stream` (its `/jsz` account details). */
  private async leadsByItsOwnAccount(index: number, stream: string): Promise<boolean> {
    const node = this.node(index);
    const url = `http://127.0.0.1:${node.monitorPort}/jsz?accounts=true&streams=true`;
    const answer = await fetch(url, { signal: AbortSignal.timeout(ADMIN_TIMEOUT_MS) }).catch(() => null);
    const jsz = (await answer?.json().catch(() => null)) as { account_details?: Array<{ stream_detail?: Array<{ name: string; cluster?: { leader?: string } }> }> } | null;
    const streams = jsz?.account_details?.flatMap((account) => account.stream_detail ?? []) ?? [];
    return streams.some((s) => s.name === stream && s.cluster?.leader === node.name);
  }

  /** Waits until `stream` has a leader (other than `notNode`, when given: the one that was killed or stopped). */
  async waitForStreamLeader(stream: string, notNode?: number, timeoutMs = 60_000): Promise<number> {
    const what = notNode === undefined ? `a leader of stream ${stream}` : `a leader of stream ${stream} other than node ${notNode}`;
    return waitFor(what, async () => {
      const leader = await this.streamLeader(stream);
      return leader !== null && leader !== notNode ? leader : undefined;
    }, timeoutMs, 20);
  }

  /**
   * Asks the leader of `stream` to step down (JetStream's `$JS.API.STREAM.LEADER.STEPDOWN`) and waits for another one;
   * returns it. The new leader is the replicas' choice, not ours.
   */
  async stepDownStreamLeader(stream: string, timeoutMs = 60_000): Promise<number> {
    const leader = await this.waitForStreamLeader(stream, undefined, timeoutMs);
    const answer = await this.nc.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: timeoutMs });
    const body = answer.json<{ success?: boolean; error?: { description?: string } }>();
    if (!body.success) throw new Error(`stream ${stream} refused to step down: ${body.error?.description ?? answer.string()}`);
    return this.waitForStreamLeader(stream, leader, timeoutMs);
  }

  /** Steps the leader of `stream` down until `node` leads it (each step-down elects one of the others). */
  async moveStreamLeader(stream: string, node: number, timeoutMs = 60_000): Promise<void> {
    await waitFor(`node ${node} to lead stream ${stream}`, async () => {
      if ((await this.waitForStreamLeader(stream, undefined, timeoutMs)) === node) return true;
      await this.stepDownStreamLeader(stream, timeoutMs);
      return (await this.streamLeader(stream)) === node || undefined;
    }, timeoutMs, 0);
  }

  /** The node `nc` is connected to now (by the server name in its INFO), or null while it reconnects. */
  nodeOf(nc: NatsConnection): number | null {
    const name = nc.info?.server_name;
    const index = this.nodes.findIndex((node) => node.name === name);
    return index >= 0 && !nc.isClosed() ? index : null;
  }

  /**
   * Waits until `stream` has a leader and every other replica is current (caught up with it): after a restart,
   * before the next server may go without leaving the stream short of a quorum. The leader keeps reporting a replica
   * as current for seconds after its process died (its last contact was recent), so a replica counts only once the
   * leader heard from it after its server's last (re)start.
   */
  async waitForStreamCurrent(stream: string, timeoutMs = 60_000): Promise<StreamInfo> {
    return waitFor(`every replica of stream ${stream} current`, async () => {
      const askedAt = performance.now();
      const info = await this.streamInfo(stream).catch(() => null);
      const cluster = info?.cluster;
      if (!info || !cluster?.leader) return undefined;
      const replicas = cluster.replicas ?? [];
      const followers = (info.config.num_replicas ?? 1) - 1;
      const caughtUp = (replica: PeerInfo) => {
        const node = this.nodes.findIndex((n) => n.name === replica.name);
        const heardSinceStart = node < 0 || replica.active / 1e6 < askedAt - this.startedAt[node]!;
        return replica.current && !replica.offline && heardSinceStart;
      };
      return replicas.length === followers && replicas.every(caughtUp) ? info : undefined;
    }, timeoutMs, 100);
  }

  /** Kills every server and removes their store dirs. */
  async destroy(): Promise<void> {
    await this.nc.close().catch(() => undefined);
    await Promise.all(this.nodes.map((node) => node.server.destroy()));
  }

  private node(index: number): NatsClusterNode {
    const node = this.nodes[index];
    if (!node) throw new RangeError(`no node ${index} in a cluster of ${this.nodes.length}`);
    return node;
  }
}
