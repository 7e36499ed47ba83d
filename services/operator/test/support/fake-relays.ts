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
}

/**
 * Stand-ins for relay pods' HTTP endpoints (GET /status, POST /step-down), one local server per pod. A step-down
 * behaves like the real relay's: the pod stops leading; `onStepDown` lets a test hand leadership to another pod.
 */
export class FakeRelays {
  private readonly relays = new Map<string, FakeRelay>();
  onStepDown: (pod: string) => void = () => undefined;

  async add(pod: string, leading: boolean, epoch = 1, partitions = 1): Promise<string> {
    const report: RelayPodReport = {
      instanceId: pod,
      leading,
      partitions: Array.from({ length: partitions }, (_, partition) => ({ partition, leading, epoch: leading ? epoch : null })),
    };
    const relay = { report, behaviour: 'answer' as RelayBehaviour, stepDowns: 0 } as FakeRelay;
    relay.server = http.createServer((req, res) => this.serve(pod, relay, req, res));
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
    relay.url = `http://127.0.0.1:${(relay.server.address() as AddressInfo).port}`;
    this.relays.set(pod, relay);
    return relay.url;
  }

  /** For HttpPodProber's baseUrl option: pods are found by name, not IP. */
  readonly baseUrl = (pod: ProbeTarget): string => this.relays.get(pod.name)?.url ?? 'http://127.0.0.1:9';

  setLeading(pod: string, leading: boolean, epoch: number | null = null): void {
    const relay = this.get(pod);
    relay.report = {
      ...relay.report,
      leading,
      partitions: relay.report.partitions.map((p) => ({ ...p, leading, epoch: leading ? epoch : null })),
    };
  }

  setBehaviour(pod: string, behaviour: RelayBehaviour): void {
    this.get(pod).behaviour = behaviour;
  }

  stepDowns(pod: string): number {
    return this.relays.get(pod)?.stepDowns ?? 0;
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
