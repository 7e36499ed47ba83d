import { KubeApiError, httpStatusOf } from '../errors';
import { isoTime as iso } from '../time';
import { DEFAULT_KUBE_API_TIMEOUT_MS, makeApiClient, withSignal } from './api-clients';
import { k8s, type KubeConfig, type V1Lease } from './client-node';

/** The leader-election record, as stored in a coordination.k8s.io/v1 Lease's spec. */
export interface LeaseRecord {
  /** Empty when released. */
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions: number;
}

/**
 * The Lease's reads and writes. Each ends by the lock's own request timeout, or earlier when `signal` aborts (the
 * elector's renew deadline): a renewal that cannot finish in time must fail, not hang.
 */
export interface LeaseLock {
  readonly description: string;
  get(signal?: AbortSignal): Promise<{ record: LeaseRecord; resourceVersion: string } | undefined>;
  /** false when someone else created it first. */
  create(record: LeaseRecord, signal?: AbortSignal): Promise<boolean>;
  /** false when the Lease changed since `resourceVersion` (optimistic concurrency: someone else wrote). */
  update(record: LeaseRecord, resourceVersion: string, signal?: AbortSignal): Promise<boolean>;
}

export class KubeLeaseLock implements LeaseLock {
  private readonly api: InstanceType<typeof k8s.CoordinationV1Api>;

  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
    private readonly name: string,
    options: { timeoutMs?: number } = {},
  ) {
    this.api = makeApiClient(kubeConfig, k8s.CoordinationV1Api, options.timeoutMs ?? DEFAULT_KUBE_API_TIMEOUT_MS);
  }

  get description(): string {
    return `${this.namespace}/${this.name}`;
  }

  async get(signal?: AbortSignal): Promise<{ record: LeaseRecord; resourceVersion: string } | undefined> {
    try {
      const lease = await this.api.readNamespacedLease({ namespace: this.namespace, name: this.name }, options(signal));
      const spec = lease.spec ?? {};
      const acquireTime = iso(spec.acquireTime);
      const renewTime = iso(spec.renewTime);
      return {
        resourceVersion: lease.metadata?.resourceVersion ?? '',
        record: {
          holderIdentity: spec.holderIdentity ?? '',
          leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
          leaseTransitions: spec.leaseTransitions ?? 0,
          ...(acquireTime ? { acquireTime } : {}),
          ...(renewTime ? { renewTime } : {}),
        },
      };
    } catch (err) {
      if (httpStatusOf(err) === 404) return undefined;
      throw new KubeApiError('get', this.target(), err);
    }
  }

  async create(record: LeaseRecord, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.api.createNamespacedLease({ namespace: this.namespace, body: this.lease(record) }, options(signal));
      return true;
    } catch (err) {
      if (httpStatusOf(err) === 409) return false;
      throw new KubeApiError('create', this.target(), err);
    }
  }

  async update(record: LeaseRecord, resourceVersion: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.api.replaceNamespacedLease(
        { namespace: this.namespace, name: this.name, body: this.lease(record, resourceVersion) },
        options(signal),
      );
      return true;
    } catch (err) {
      if (httpStatusOf(err) === 409) return false;
      throw new KubeApiError('update', this.target(), err);
    }
  }

  private lease(record: LeaseRecord, resourceVersion?: string): V1Lease {
    // MicroTime: the API server rejects timestamps without exactly six fractional digits.
    const micro = (t: string | undefined) => (t ? new k8s.V1MicroTime(t) : undefined);
    const acquireTime = micro(record.acquireTime);
    const renewTime = micro(record.renewTime);
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace, ...(resourceVersion ? { resourceVersion } : {}) },
      spec: {
        holderIdentity: record.holderIdentity,
        leaseDurationSeconds: record.leaseDurationSeconds,
        leaseTransitions: record.leaseTransitions,
        ...(acquireTime ? { acquireTime } : {}),
        ...(renewTime ? { renewTime } : {}),
      },
    };
  }

  private target() {
    return { kind: 'Lease', namespace: this.namespace, name: this.name };
  }
}

const options = (signal: AbortSignal | undefined) => (signal ? withSignal(signal) : undefined);
