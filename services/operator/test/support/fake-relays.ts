import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RelayPodReport } from '../../src/reconcile/types';
import type { ProbeTarget } from '../../src/prober';

export type RelayBehaviour = 'answer' | 'hang' | 'fail' | 'garbage';

interface FakeRelay {
  server: http.Server;
  url: string;
  report: RelayPodReport;
  behaviour: RelayBehaviour;
  stepDowns: number;
  /** Step-downs refused for want of the token. */
  refusedStepDowns: number;
}

/** What a relay reports of a partition it leads and publishes well: a long term, a recent renewal and publish. */
const HEALTHY = { leadingForMs: 60_000, renewedAgoMs: 100, publishedAgoMs: 200, pending: 0, oldestPendingAgeMs: 0 };
/** A partition nobody here leads: no term, and the backlog as every pod reads it. */
const FOLLOWING = { leadingForMs: null, renewedAgoMs: null, publishedAgoMs: null, pending: 0, oldestPendingAgeMs: 0 };

/**
 * Stand-ins for relay pods' HTTP endpoints (GET /status, POST /step-down), one local server per pod. A step-down
 * behaves like the real relay's: the pod stops leading; `onStepDown` lets a test hand leadership to another pod.
 */
export class FakeRelays {
  private readonly relays = new Map<string, FakeRelay>();
  onStepDown: (pod: string) => void = () => undefined;
  /**
   * The admin token a pod's POST /step-down requires, as the real relay does (401 without it or with another);
   * undefined (the default): any request is taken.
   */
  adminToken: (pod: string) => string | undefined = () => undefined;

  async add(pod: string, leading: boolean, epoch = 1, partitions = 1): Promise<string> {
    const report: RelayPodReport = {
      instanceId: pod,
      leading,
      partitions: Array.from({ length: partitions }, (_, partition) => ({
        partition,
        leading,
        epoch: leading ? epoch : null,
        ...(leading ? HEALTHY : FOLLOWING),
      })),
      backlogReadAgoMs: 100,
      natsConnected: true,
    };
    const relay = { report, behaviour: 'answer' as RelayBehaviour, stepDowns: 0, refusedStepDowns: 0 } as FakeRelay;
    relay.server = http.createServer((req, res) => this.serve(pod, relay, req, res));
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
    relay.url = `http://127.0.0.1:${(relay.server.address() as AddressInfo).port}`;
    this.relays.set(pod, relay);
    return relay.url;
  }

  /** For HttpPodProber's baseUrl option: pods are found by name, not IP. */
  readonly baseUrl = (pod: ProbeTarget): string => this.relays.get(pod.name)?.url ?? 'http://127.0.0.1:9';

  /** A new term (leading, just elected: nothing published yet) or none, on every partition of the pod. */
  setLeading(pod: string, leading: boolean, epoch: number | null = null): void {
    const relay = this.get(pod);
    relay.report = {
      ...relay.report,
      leading,
      partitions: relay.report.partitions.map((p) => ({
        ...p,
        leading,
        epoch: leading ? epoch : null,
        ...(leading ? { leadingForMs: 10, renewedAgoMs: 10, publishedAgoMs: null } : FOLLOWING),
      })),
    };
  }

  /** Leads only `partitions` (at `epoch`), publishing well; follows the others. */
  leadPartitions(pod: string, partitions: number[], epoch: number): void {
    const relay = this.get(pod);
    relay.report = {
      ...relay.report,
      leading: partitions.length > 0,
      partitions: relay.report.partitions.map((p) =>
        partitions.includes(p.partition) ? { ...p, leading: true, epoch, ...HEALTHY } : { ...p, leading: false, epoch: null, ...FOLLOWING },
      ),
    };
  }

  /**
   * The pod keeps its leases (it renews them) but has published nothing for `forMs` while `pending` events wait,
   * the oldest as long: the evidence of a stalled leader.
   */
  stall(pod: string, options: { pending?: number; forMs?: number } = {}): void {
    const { pending = 250, forMs = 120_000 } = options;
    const relay = this.get(pod);
    relay.report = {
      ...relay.report,
      partitions: relay.report.partitions.map((p) =>
        p.leading ? { ...p, leadingForMs: forMs + 60_000, renewedAgoMs: 100, publishedAgoMs: forMs, pending, oldestPendingAgeMs: forMs } : p,
      ),
    };
  }

  /** The pod now follows `count` partitions (the schema's count changed): new ones not led, removed ones gone. */
  setPartitionCount(pod: string, count: number): void {
    const relay = this.get(pod);
    const kept = relay.report.partitions.filter((p) => p.partition < count);
    const added = Array.from({ length: count - kept.length }, (_, i) => ({ partition: kept.length + i, leading: false, epoch: null, ...FOLLOWING }));
    const partitions = [...kept, ...added];
    relay.report = { ...relay.report, leading: partitions.some((p) => p.leading), partitions };
  }

  setNatsConnected(pod: string, connected: boolean): void {
    const relay = this.get(pod);
    relay.report = { ...relay.report, natsConnected: connected };
  }

  setBehaviour(pod: string, behaviour: RelayBehaviour): void {
    this.get(pod).behaviour = behaviour;
  }

  stepDowns(pod: string): number {
    return this.relays.get(pod)?.stepDowns ?? 0;
  }

  refusedStepDowns(pod: string): number {
    return this.relays.get(pod)?.refusedStepDowns ?? 0;
  }

  async closeAll(): Promise<void> {
    await Promise.all(
      [...this.relays.values()].map((r) => {
        r.server.closeAllConnections();
        return new Promise<void>((resolve) => r.server.close(() => resolve()));
      }),
    );
    this.relays.clear();
  }

  private get(pod: string): FakeRelay {
    const relay = this.relays.get(pod);
    if (!relay) throw new Error(`no fake relay for pod ${pod}`);
    return relay;
  }

  private serve(pod: string, relay: FakeRelay, req: http.IncomingMessage, res: http.ServerResponse): void {
    if (relay.behaviour === 'hang') return; // never answers: the prober's timeout must end it
    if (relay.behaviour === 'fail') {
      res.writeHead(500).end();
      return;
    }
    if (req.method === 'GET' && req.url === '/status') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(relay.behaviour === 'garbage' ? '{"hello":"world"}' : JSON.stringify(relay.report));
      return;
    }
    if (req.method === 'POST' && req.url === '/step-down') {
      const token = this.adminToken(pod);
      if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
        relay.refusedStepDowns++;
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"error":"unauthorized"}');
        return;
      }
      relay.stepDowns++;
      this.setLeading(pod, false);
      this.onStepDown(pod);
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{"status":"stepping_down"}');
      return;
    }
    res.writeHead(404).end();
  }
}
