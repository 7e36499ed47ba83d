/**
 * Capped exponential backoff with jitter (half fixed, half random), so many failing keys or watches do not retry
 * in lock step. The outbox library has the same idea; the operator keeps its own copy so it does not load the
 * Postgres and NATS clients.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    readonly minMs: number,
    readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const cap = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(cap / 2 + (this.random() * cap) / 2);
  }

  get failures(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
