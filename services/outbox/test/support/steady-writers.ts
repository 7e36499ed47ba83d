import type { Outbox } from '@outbox-relay/outbox';

/** What every writer's event carries: its aggregate and its place in that aggregate's history (1, 2, ...). */
export type StepPayload = {
  aggregate: string;
  n: number;
};

export interface SteadyWritersOptions {
  /** Events per second over all writers. */
  rate: number;
  writers: number;
  /** Aggregates per writer. Each aggregate has one writer, so its `n` follows its commit order. */
  aggregatesPerWriter: number;
  /** Aggregate ids are `<prefix>-<writer>-<k>`. */
  prefix: string;
}

/**
 * Writers committing one event per transaction at a steady rate, each on aggregates of its own, until stopped.
 * Every committed event is counted; a failed transaction is kept and fails `stop()`: these tests fault NATS, not
 * Postgres, so a writer has no reason to fail.
 */
export class SteadyWriters {
  /** Events committed so far, by aggregate. */
  readonly committed = new Map<string, number>();
  total = 0;
  private stopping = false;
  private readonly errors: unknown[] = [];
  private readonly loops: Promise<void>[];

  private constructor(
    private readonly outbox: Outbox,
    private readonly options: SteadyWritersOptions,
  ) {
    this.loops = Array.from({ length: options.writers }, (_, w) => this.write(w));
  }

  static start(outbox: Outbox, options: SteadyWritersOptions): SteadyWriters {
    return new SteadyWriters(outbox, options);
  }

  /** Stops after the transactions in flight; rejects with the first failure any writer met. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    if (this.errors.length > 0) throw new Error(`${this.errors.length} writer transaction(s) failed`, { cause: this.errors[0] });
  }

  private async write(writer: number): Promise<void> {
    const { rate, writers, aggregatesPerWriter, prefix } = this.options;
    const intervalMs = (1000 * writers) / rate;
    let due = performance.now();
    for (let k = 0; !this.stopping; k++) {
      const aggregate = `${prefix}-${writer}-${k % aggregatesPerWriter}`;
      const n = (this.committed.get(aggregate) ?? 0) + 1;
      const payload: StepPayload = { aggregate, n };
      try {
        await this.outbox.transaction((tx) => this.outbox.enqueue(tx, { aggregateType: 'Account', aggregateId: aggregate, eventType: 'Step', payload }));
        this.committed.set(aggregate, n);
        this.total++;
      } catch (error) {
        this.errors.push(error);
        return;
      }
      // Pacing, not waiting for an event: the next commit is due one interval after the previous one was due, so a
      // slow commit is caught up with rather than lowering the rate.
      due += intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
