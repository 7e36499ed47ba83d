import { outboxRelayCrd } from '../../src/api/crd';
import { API_GROUP_VERSION, KIND } from '../../src/api/group';
import type { OutboxRelayStatus } from '../../src/api/types';
import { OutboxRelayController, type ControllerOptions } from '../../src/controller';
import { OperatorMetrics } from '../../src/metrics';
import { HttpPodProber } from '../../src/prober';
import { FakeKubeApi, type JsonObject } from './fake-kube-api';
import { FakeRelays } from './fake-relays';
import { kubeConfigFor } from './kube';
import { testLogger } from './logger';
import { relayDatabaseSecret, relayManifest, relayPod, setReady } from './relays';
import { waitFor } from '@outbox-relay/test-support';

/** The operator's default relay image in controller tests (its RELAY_IMAGE). */
export const HARNESS_RELAY_IMAGE = 'registry.test/outbox-relay:from-operator-config';

/**
 * A controller wired to the fake API server and to fake relay pods, with timings short enough for tests. The
 * test plays every other actor: the user (relay manifests), the Deployment controller and kubelet (pods and
 * their readiness) and the relays (their /status and /step-down).
 */
export class ControllerHarness {
  readonly metrics = new OperatorMetrics();
  controller!: OutboxRelayController;
  private podIndex = 1;
  /** Pod name → its OutboxRelay, for the fake relays' token check. */
  private readonly relayOfPod = new Map<string, string>();
  private readonly peers: OutboxRelayController[] = [];
  private options!: ControllerOptions;

  private constructor(
    readonly api: FakeKubeApi,
    readonly relays: FakeRelays,
    readonly namespace: string,
  ) {}

  static async start(namespace: string, overrides: Partial<ControllerOptions> = {}): Promise<ControllerHarness> {
    const api = await FakeKubeApi.start({ crds: [outboxRelayCrd] });
    const harness = new ControllerHarness(api, new FakeRelays(), namespace);
    // As the real relays: a step-down takes the token in the relay's admin Secret, which the operator made; a pod
    // with no Secret (yet) takes none.
    harness.relays.adminToken = (pod) => harness.adminToken(harness.relayOfPod.get(pod) ?? '') ?? 'no admin Secret';
    harness.options = {
      kubeConfig: kubeConfigFor(api.url, namespace),
      namespace,
      prober: new HttpPodProber({ timeoutMs: 300, baseUrl: harness.relays.baseUrl }),
      relayImage: HARNESS_RELAY_IMAGE,
      logger: testLogger,
      metrics: harness.metrics,
      identity: 'operator-test',
      resyncMs: 60_000,
      relistMs: 60_000,
      workers: 2,
      retry: { minMs: 20, maxMs: 500 },
      informerBackoff: { minMs: 20, maxMs: 200 },
      ...overrides,
    };
    harness.controller = new OutboxRelayController(harness.options);
    await harness.controller.start();
    return harness;
  }

  /**
   * A second controller on the same API server and pods, as when two operator replicas overlap (a leader that has
   * not yet noticed it lost its Lease, and its successor).
   */
  async startPeer(identity: string): Promise<{ controller: OutboxRelayController; metrics: OperatorMetrics }> {
    const metrics = new OperatorMetrics();
    const controller = new OutboxRelayController({ ...this.options, identity, metrics });
    this.peers.push(controller);
    await controller.start();
    return { controller, metrics };
  }

  async stop(): Promise<void> {
    await Promise.all(this.peers.map((p) => p.stop()));
    await this.controller.stop();
    await this.relays.closeAll();
    await this.api.close();
  }

  /**
   * Creates the relay, and first the database Secret it names unless the test created it (or `withSecret` is false).
   * `admission: false` stores what the CRD would refuse (an older CRD installed, validation bypassed).
   */
  createRelay(name: string, spec: JsonObject = {}, options: { withSecret?: boolean; admission?: boolean } = {}): JsonObject {
    if (options.withSecret !== false && !this.api.get('v1', 'Secret', this.namespace, 'relay-db')) {
      this.api.create(relayDatabaseSecret(this.namespace), 'kubectl');
    }
    return this.api.create(relayManifest(name, this.namespace, spec), 'kubectl', options.admission === undefined ? {} : { admission: options.admission });
  }

  relay(name: string): JsonObject | undefined {
    return this.api.get(API_GROUP_VERSION, KIND, this.namespace, name);
  }

  status(name: string): OutboxRelayStatus {
    return (this.relay(name)?.status ?? {}) as OutboxRelayStatus;
  }

  editSpec(name: string, change: (spec: JsonObject) => void): void {
    this.api.update(API_GROUP_VERSION, KIND, this.namespace, name, (r) => change(r.spec as JsonObject), { manager: 'kubectl' });
  }

  /** The token in the relay's admin Secret, as its pods read it; undefined while there is no Secret. */
  adminToken(relay: string): string | undefined {
    const data = this.api.get('v1', 'Secret', this.namespace, `${relay}-relay-admin`)?.data as Record<string, string> | undefined;
    return data?.token === undefined ? undefined : Buffer.from(data.token, 'base64').toString('utf8');
  }

  child(kind: 'Deployment' | 'Service' | 'PodDisruptionBudget' | 'ServiceAccount' | 'Secret' | 'NetworkPolicy', name: string): JsonObject | undefined {
    const apiVersion = { Deployment: 'apps/v1', Service: 'v1', PodDisruptionBudget: 'policy/v1', ServiceAccount: 'v1', Secret: 'v1', NetworkPolicy: 'networking.k8s.io/v1' }[kind];
    return this.api.get(apiVersion, kind, this.namespace, name);
  }

  /** A running relay pod: its object (with an IP), its Ready condition, and its /status endpoint. */
  async addPod(
    relay: string,
    pod: string,
    options: { leading: boolean; epoch?: number; ready?: boolean; partitions?: number; readyAt?: Date },
  ): Promise<void> {
    this.relayOfPod.set(pod, relay);
    await this.relays.add(pod, options.leading, options.epoch ?? 1, options.partitions ?? 1);
    const object = relayPod(relay, this.namespace, pod, `10.0.0.${this.podIndex++}`);
    setReady(object, options.ready ?? true, options.readyAt);
    this.api.create(object, 'kube-controller-manager');
  }

  /** Flips the pod's Ready condition; returns its lastTransitionTime (whole seconds, as the kubelet writes it). */
  setPodReady(pod: string, ready: boolean): number {
    const updated = this.api.update('v1', 'Pod', this.namespace, pod, (p) => setReady(p, ready), { scope: 'status', manager: 'kubelet' });
    const conditions = (updated.status as { conditions?: Array<{ lastTransitionTime?: string }> }).conditions ?? [];
    return Date.parse(conditions[0]?.lastTransitionTime ?? '');
  }

  /** The Pod objects of a relay, as the API server holds them now. */
  pods(): JsonObject[] {
    return this.api.list('v1', 'Pod', this.namespace);
  }

  /** Eviction requests (POST pods/<name>/eviction) made so far, with the status each got. */
  evictions(): Array<{ pod: string; status: number }> {
    return this.api.requests.filter((r) => r.subresource === 'eviction').map((r) => ({ pod: r.name ?? '', status: r.status }));
  }

  /** Plain DELETEs of pods (which ignore the PodDisruptionBudget). */
  podDeletions(): string[] {
    return this.api.requests.filter((r) => r.resource === 'pods' && r.verb === 'delete').map((r) => r.name ?? '');
  }

  async reconciles(metrics = this.metrics): Promise<number> {
    return (await metrics.value(metrics.reconciles, { result: 'success' })) + (await metrics.value(metrics.reconciles, { result: 'error' }));
  }

  /** Resolves once `count` more reconciles have run than when called: the controller has looked again. */
  async reconciled(count: number, metrics = this.metrics): Promise<void> {
    const start = await this.reconciles(metrics);
    await waitFor(`${count} more reconciles`, async () => (await this.reconciles(metrics)) >= start + count, 15_000);
  }

  events(reason?: string): JsonObject[] {
    return this.api.list('v1', 'Event', this.namespace).filter((e) => !reason || e.reason === reason);
  }

  condition(name: string, type: string): { status: string; reason: string; message: string } | undefined {
    return this.status(name).conditions?.find((c) => c.type === type);
  }

  waitForStatus<T>(relay: string, what: string, check: (status: OutboxRelayStatus) => T | undefined | false, timeoutMs = 10_000): Promise<T> {
    return waitFor(`${relay}: ${what}`, () => check(this.status(relay)), timeoutMs);
  }
}
