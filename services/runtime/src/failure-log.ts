import { performance } from 'node:perf_hooks';
import type { Logger } from './library-logger';

/** How often a failure that goes on is summarized (one WARN line) while it lasts. */
export const FAILURE_SUMMARY_EVERY_MS = 30_000;

/** The parts of an error worth a log line without its stack: what it is and what it says. */
export function causeOf(error: unknown): { name?: string; code?: unknown; message: string } {
  const e = error as { name?: string; code?: unknown; message?: string } | null;
  if (!e || typeof e !== 'object') return { message: String(error) };
  return { name: e.name, ...(e.code !== undefined ? { code: e.code } : {}), message: e.message ?? String(error) };
}

/**
 * Logs a failing activity by its state changes, not by its retries: a 2-minute database outage seen by a relay
 * that retries every few hundred milliseconds is one WARN when it starts (with the error and its stack, once), a
 * WARN summary every 30 s while it lasts (attempts, duration, last cause, no stack), and one INFO when it is over.
 * Each retry in between is DEBUG. One log may serve several parts that fail together (the partitions of a relay,
 * by key): it is failing while any of them is, so an outage is one line for all of them.
 */
export class FailureLog {
  /** Failing keys, and since when (monotonic ms). */
  private readonly failingKeys = new Map<string, number>();
  private failingSince = 0;
  private attempts = 0;
  private lastSummary = 0;

  constructor(
    private readonly logger: Logger | undefined,
    /** What fails, as a subject: "publishing", "lease heartbeats", "balance check". */
    private readonly what: string,
    private readonly summaryEveryMs = FAILURE_SUMMARY_EVERY_MS,
  ) {}

  get failing(): boolean {
    return this.failingKeys.size > 0;
  }

  failed(error: unknown, context: Record<string, unknown> = {}, key = ''): void {
    const now = performance.now();
    this.attempts++;
    const first = this.failingKeys.size === 0;
    if (!this.failingKeys.has(key)) this.failingKeys.set(key, now);
    if (first) {
      this.failingSince = now;
      this.lastSummary = now;
      this.logger?.warn({ err: error, ...context }, `${this.what} failing; retrying`);
      return;
    }
    if (now - this.lastSummary >= this.summaryEveryMs) {
      this.lastSummary = now;
      this.logger?.warn(
        { cause: causeOf(error), attempts: this.attempts, failingForMs: Math.round(now - this.failingSince), ...this.keys(), ...context },
        `${this.what} still failing`,
      );
      return;
    }
    this.logger?.debug({ cause: causeOf(error), attempt: this.attempts, ...context }, `${this.what} failed again`);
  }

  succeeded(context: Record<string, unknown> = {}, key = ''): void {
    if (!this.failingKeys.delete(key) || this.failingKeys.size > 0) return;
    this.logger?.info(
      { attempts: this.attempts, failedForMs: Math.round(performance.now() - this.failingSince), ...context },
      `${this.what} recovered`,
    );
    this.attempts = 0;
  }

  /** `key` no longer takes part (a partition whose term ended): it stops counting as failing, without a line. */
  forget(key: string): void {
    if (this.failingKeys.delete(key) && this.failingKeys.size === 0) this.attempts = 0;
  }

  private keys(): { failing?: string[] } {
    const keys = [...this.failingKeys.keys()].filter((k) => k !== '');
    return keys.length > 0 ? { failing: keys } : {};
  }
}
