import type { Logger } from 'pino';

/**
 * Logs `payments metrics` with the counters every `intervalMs` (until Prometheus metrics arrive), and once more
 * on stop so the last interval is not lost. `intervalMs` 0 logs only the final line.
 */
export function startMetricsLog(stats: () => object, logger: Logger, intervalMs: number): { stop(): void } {
  const log = () => logger.info({ metrics: stats() }, 'payments metrics');
  const timer = intervalMs > 0 ? setInterval(log, intervalMs) : undefined;
  timer?.unref();
  return {
    stop() {
      if (timer) clearInterval(timer);
      log();
    },
  };
}
