import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { messageOf } from './errors';
import type { LeaseLock, LeaseRecord } from './kube/lease-lock';

export interface OperatorLeaderElectorOptions {
  lock: LeaseLock;
  /** Unique per process (pod name): two replicas must never share it. */
  identity: string;
  /** How long a holder's claim lasts after its last renewal, as others observe it. */
  leaseDurationMs: number;
  /** A leader that could not renew for this long stops leading; below leaseDurationMs so it stops before anyone
   * else may take over. */
  renewDeadlineMs: number;
  /** Pause between attempts to acquire or renew. */
  retryPeriodMs: number;
  /** On a graceful stop, hand the Lease back at once instead of letting it expire (default true). */
  releaseOnStop?: boolean;
  logger: Logger;
}

export interface LeadershipCallbacks {
  onStartedLeading(): void | Promise<void>;
  onStoppedLeading(): void | Promise<void>;
  onNewLeader?(identity: string): void;
}

type Attempt = 'acquired' | 'held-by-other';

/**
 * Leader election through a coordination.k8s.io/v1 Lease, after client-go's leaderelection: writes are
 * optimistic (create fails if it exists, update fails if the resourceVersion moved), so two candidates never both
 * win a round. Expiry is judged by when *this* process saw the record change, on its monotonic clock, never by
 * the timestamps in the record: the pods' wall clocks need not agree.
 */
export class OperatorLeaderElector {
  private leading = false;
  private observed: LeaseRecord | undefined;
  private observedAt = 0;

  constructor(private readonly options: OperatorLeaderElectorOptions) {
    if (options.renewDeadlineMs >= options.leaseDurationMs) throw new RangeError('renewDeadlineMs must be below leaseDurationMs');
    if (options.retryPeriodMs >= options.renewDeadlineMs) throw new RangeError('retryPeriodMs must be below renewDeadlineMs');
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns until it leads, then renews until it loses the Lease or `signal` aborts. Resolves after either. */
  async run(callbacks: LeadershipCallbacks, signal: AbortSignal): Promise<void> {
    const { logger, lock, identity, retryPeriodMs, renewDeadlineMs } = this.options;
    while (!signal.aborted) {
      if ((await this.attempt(callbacks, AbortSignal.timeout(renewDeadlineMs))) === 'acquired') break;
      await sleep(retryPeriodMs * (1 + Math.random() * 0.2), signal);
    }
    if (signal.aborted) return;
    this.leading = true;
    logger.info({ lease: lock.description, identity }, 'became the leader');
    await callbacks.onStartedLeading();
    let lastRenewal = performance.now();
    while (!signal.aborted) {
      await sleep(retryPeriodMs, signal);
      if (signal.aborted) break;
      // A renewal must not outlive the renew deadline: one stuck on a dead connection would keep this replica
      // acting as the leader after a standby has taken the Lease. Cut at the deadline, it fails, and we stop.
      const deadline = AbortSignal.timeout(Math.max(1, Math.ceil(lastRenewal + renewDeadlineMs - performance.now())));
      const outcome = await this.attempt(callbacks, deadline);
      if (outcome === 'acquired') {
        lastRenewal = performance.now();
        continue;
      }
      if (outcome === 'held-by-other' || performance.now() - lastRenewal >= renewDeadlineMs) {
        logger.error({ lease: lock.description, identity, holder: this.observed?.holderIdentity }, 'lost the leadership');
        break;
      }
    }
    if (signal.aborted && this.options.releaseOnStop !== false) await this.release();
    this.leading = false;
    await callbacks.onStoppedLeading();
  }

  /** One round, ended by `deadline` at the latest: undefined when the API could not be reached in time. */
  private async attempt(callbacks: LeadershipCallbacks, deadline: AbortSignal): Promise<Attempt | undefined> {
    try {
      return await this.tryAcquireOrRenew(callbacks, deadline);
    } catch (err) {
      this.options.logger.warn({ lease: this.options.lock.description, err: messageOf(err) }, 'lease request failed');
      return undefined;
    }
  }

  private async tryAcquireOrRenew(callbacks: LeadershipCallbacks, deadline: AbortSignal): Promise<Attempt> {
    const { lock, identity, leaseDurationMs } = this.options;
    const now = new Date().toISOString();
    const desired: LeaseRecord = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(leaseDurationMs / 1000)),
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };
    const current = await lock.get(deadline);
    if (!current) {
      if (!(await lock.create(desired, deadline))) return 'held-by-other';
      this.observe(desired, callbacks);
      return 'acquired';
    }
    this.observe(current.record, callbacks);
    const holder = current.record.holderIdentity;
    const expiresAt = this.observedAt + current.record.leaseDurationSeconds * 1000;
    if (holder && holder !== identity && performance.now() < expiresAt) return 'held-by-other';
    if (holder === identity) {
      desired.acquireTime = current.record.acquireTime ?? now;
      desired.leaseTransitions = current.record.leaseTransitions;
    } else {
      desired.leaseTransitions = current.record.leaseTransitions + 1;
    }
    if (!(await lock.update(desired, current.resourceVersion, deadline))) return 'held-by-other';
    this.observe(desired, callbacks);
    return 'acquired';
  }

  /** Restarts the expiry clock whenever the record changes (a renewal by the holder changes renewTime). */
  private observe(record: LeaseRecord, callbacks: LeadershipCallbacks): void {
    const previous = this.observed;
    if (previous && previous.holderIdentity === record.holderIdentity && previous.renewTime === record.renewTime && previous.leaseTransitions === record.leaseTransitions) {
      return;
    }
    this.observed = record;
    this.observedAt = performance.now();
    if (record.holderIdentity && record.holderIdentity !== previous?.holderIdentity) callbacks.onNewLeader?.(record.holderIdentity);
  }

  /** Hands the Lease back: an empty holder lets any candidate take it on its next attempt. */
  private async release(): Promise<void> {
    const { lock, identity, logger, renewDeadlineMs } = this.options;
    // A release that cannot be done in time is pointless: the Lease expires anyway.
    const deadline = AbortSignal.timeout(renewDeadlineMs);
    try {
      const current = await lock.get(deadline);
      if (!current || current.record.holderIdentity !== identity) return;
      const now = new Date().toISOString();
      await lock.update({ ...current.record, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now }, current.resourceVersion, deadline);
      logger.info({ lease: lock.description, identity }, 'released the lease');
    } catch (err) {
      logger.warn({ lease: lock.description, err: messageOf(err) }, 'could not release the lease; it will expire');
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
