import type { Logger } from 'pino';
import type { OperatorConfig } from './config';
import { OutboxRelayController } from './controller';
import { messageOf } from './errors';
import type { KubeConfig } from './kube/client-node';
import { KubeLeaseLock } from './kube/lease-lock';
import { OperatorLeaderElector } from './leader-election';
import type { OperatorMetrics } from './metrics';
import { HttpPodProber, type PodProber } from './prober';
import type { ObservedState, ReconcileResult } from './reconcile/types';

export interface OperatorOptions {
  config: OperatorConfig;
  kubeConfig: KubeConfig;
  logger: Logger;
  metrics: OperatorMetrics;
  prober?: PodProber;
  /** Called when this replica loses the leader Lease without being asked to stop; main exits, so the pod
   * restarts as a clean standby rather than carrying half-stopped state. */
  onLeadershipLost?: () => void;
  /**
   * Called when, after losing the Lease, the controller has not stopped by the time another replica may take the
   * Lease (lease duration minus renew deadline after the loss was noticed): two controllers would then act at once,
   * so main exits at once instead of waiting for a graceful stop.
   */
  onStopOverdue?: () => void;
  /** Seams for tests. */
  reconcile?: (observed: ObservedState) => ReconcileResult;
  informerBackoff?: { minMs: number; maxMs: number };
  retry?: { minMs: number; maxMs: number };
}

export interface OperatorHealth {
  /** The process works (false only after a failure it cannot recover from by itself). */
  live: boolean;
  /** A standby is ready while it campaigns; the leader once its caches are filled. */
  ready: boolean;
  leader: boolean;
}

/**
 * One operator replica: with leader election, a standby that campaigns for the Lease and runs the controller only
 * while it holds it; without, the controller at once. main.ts wires it to the process; tests run two side by side.
 */
export class Operator {
  private controller: OutboxRelayController | undefined;
  private readonly elector: OperatorLeaderElector | undefined;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private stopping = false;
  private failed = false;

  constructor(private readonly options: OperatorOptions) {
    const { config, kubeConfig, logger } = options;
    const election = config.leaderElection;
    this.elector = election
      ? new OperatorLeaderElector({
          lock: new KubeLeaseLock(kubeConfig, election.namespace, election.leaseName, { timeoutMs: config.apiTimeoutMs }),
          identity: config.identity,
          leaseDurationMs: election.leaseDurationMs,
          renewDeadlineMs: election.renewDeadlineMs,
          retryPeriodMs: election.retryPeriodMs,
          logger,
        })
      : undefined;
  }

  start(): void {
    if (this.running) return;
    if (!this.elector) {
      this.running = this.lead();
      return;
    }
    this.running = this.elector.run(
      {
        onStartedLeading: () => this.lead(),
        onStoppedLeading: () => this.follow(),
        onNewLeader: (identity) => this.options.logger.info({ leader: identity }, 'operator leader observed'),
      },
      this.abort.signal,
    );
  }

  /** Stops reconciling and hands the Lease back (at once, not by expiry). */
  async stop(): Promise<void> {
    this.stopping = true;
    // The controller first, the Lease after: the next leader must not start while this one still acts.
    const controller = this.controller;
    this.controller = undefined;
    await controller?.stop();
    this.abort.abort();
    await this.running;
  }

  health(): OperatorHealth {
    const leader = this.elector ? this.elector.isLeader : !!this.controller;
    return { live: !this.failed, ready: !this.failed && (leader ? !!this.controller?.isReady : !!this.elector), leader };
  }

  private async lead(): Promise<void> {
    if (this.stopping) return;
    const { config, kubeConfig, logger, metrics } = this.options;
    metrics.leader.set(1);
    this.controller = new OutboxRelayController({
      kubeConfig,
      ...(config.watchNamespace ? { namespace: config.watchNamespace } : {}),
      prober: this.options.prober ?? new HttpPodProber({ timeoutMs: config.probeTimeoutMs }),
      relayImage: config.relayImage,
      apiTimeoutMs: config.apiTimeoutMs,
      logger,
      metrics,
      identity: config.identity,
      resyncMs: config.resyncMs,
      relistMs: config.relistMs,
      workers: config.workers,
      ...(config.operatorPods ? { operatorPods: config.operatorPods } : {}),
      retry: this.options.retry ?? { minMs: 500, maxMs: 60_000 },
      informerBackoff: this.options.informerBackoff ?? { minMs: 500, maxMs: 30_000 },
      ...(this.options.reconcile ? { reconcile: this.options.reconcile } : {}),
    });
    // Not awaited by the elector: the Lease must keep being renewed while the caches fill.
    this.controller.start().catch((err: unknown) => logger.error({ err: messageOf(err) }, 'controller failed to start'));
  }

  private async follow(): Promise<void> {
    this.options.metrics.leader.set(0);
    const controller = this.controller;
    this.controller = undefined;
    const election = this.options.config.leaderElection;
    // Lost rather than asked to stop: the renew deadline has passed, and from lease duration after the last
    // renewal on a standby may lead. Whatever still runs here must have stopped by then.
    const overdue =
      !this.stopping && election
        ? setTimeout(() => {
            this.options.logger.fatal({ budgetMs: election.leaseDurationMs - election.renewDeadlineMs }, 'the controller did not stop before the Lease could pass to another replica');
            this.failed = true;
            this.options.onStopOverdue?.();
          }, election.leaseDurationMs - election.renewDeadlineMs)
        : undefined;
    try {
      await controller?.stop();
    } finally {
      clearTimeout(overdue);
    }
    if (!this.stopping) {
      this.failed = true;
      this.options.onLeadershipLost?.();
    }
  }
}
