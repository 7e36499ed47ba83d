import type { Pool } from 'pg';
import { FailureLog, type Logger } from '@outbox-relay/runtime';
import { WAKE_PAYLOAD } from '../relay-signals';

/**
 * Wakes relays after commits through NOTIFY, sent from its own tiny transaction rather than the writer's.
 * A NOTIFY inside the writer's transaction serializes every such commit on a global lock, fsync included
 * (measured here with pgbench, 8 clients: 4.96k tps without, 2.45k tps with). Signals are coalesced to at most
 * one NOTIFY in flight plus one queued, and the notifying transaction skips the fsync wait
 * (synchronous_commit off: losing a wake-up in a crash only costs one poll interval).
 */
export class WakeNotifier {
  private inFlight: Promise<void> | null = null;
  private again = false;
  private readonly sql: string;
  private readonly failures: FailureLog;

  constructor(
    private readonly pool: Pool,
    channel: string,
    private readonly logger?: Logger,
  ) {
    this.sql = `BEGIN; SET LOCAL synchronous_commit = off; NOTIFY "${channel}", '${WAKE_PAYLOAD}'; COMMIT;`;
    this.failures = new FailureLog(logger, 'outbox wake-up notify (the relay polls meanwhile)');
  }

  /** Ask for a wake-up; returns at once. */
  signal(): void {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = this.drain().finally(() => {
      this.inFlight = null;
    });
  }

  /** Resolves once no NOTIFY is pending (for shutdown). */
  async flush(): Promise<void> {
    await this.inFlight;
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.pool.query(this.sql);
        this.failures.succeeded();
      } catch (error) {
        // A lost wake-up only delays publishing until the relay's next poll.
        this.failures.failed(error);
      }
    } while (this.again);
  }
}
