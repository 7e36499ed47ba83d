import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { exitAfterFlush } from './process';

export interface ShutdownPlan {
  logger: Logger;
  /** The process exits with 1 if stopping has not finished by then: a dependency that hangs must not outlive the grace period. */
  timeoutMs: number;
  /** Stops the process's parts, in order. If it throws, the error is logged and the process exits with 1. */
  stop: (reason: string) => Promise<void>;
}

/**
 * The end of a process, the same in every service: stopping runs once (a second request while it runs changes
 * nothing, a second signal exits at once), is bounded by a timeout, logs why it started and how long it took,
 * and ends with `process.exit` once its log lines are written, so nothing left behind (a timer, a socket) keeps a
 * stopped process alive.
 */
export class ProcessShutdown {
  private started = false;

  constructor(private readonly plan: ShutdownPlan) {}

  /** True once stopping began: readiness says no from then on. */
  get stopping(): boolean {
    return this.started;
  }

  /** Stops the process (once) and exits with `exitCode`, or with 1 if a step failed. */
  async run(reason: string, exitCode = 0): Promise<void> {
    if (this.started) return;
    this.started = true;
    const { logger, timeoutMs } = this.plan;
    const since = performance.now();
    logger.info({ reason }, 'shutting down');
    setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown did not finish in time; exiting');
      void exitAfterFlush(logger, 1);
    }, timeoutMs).unref();
    let code = exitCode;
    try {
      await this.plan.stop(reason);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      code = 1;
    }
    logger.info({ durationMs: Math.round(performance.now() - since), exitCode: code }, 'shut down');
    await exitAfterFlush(logger, code);
  }

  /** SIGTERM and SIGINT stop the process; a second one while it stops exits at once with 1. */
  onSignals(signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): this {
    for (const signal of signals) {
      process.on(signal, () => {
        if (this.started) {
          this.plan.logger.warn({ signal }, 'second signal during shutdown; exiting now');
          void exitAfterFlush(this.plan.logger, 1);
        }
        void this.run(signal, 0);
      });
    }
    return this;
  }
}
