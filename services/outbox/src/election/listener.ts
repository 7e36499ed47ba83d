import type { Client } from 'pg';
import { Backoff, childLogger, delay, FailureLog, type Logger } from '@outbox-relay/runtime';

/**
 * Holds one dedicated connection LISTENing on a channel, reconnecting with backoff. `onNotify` gets each payload;
 * `onListening` is called each time LISTEN is (again) in place, because notifications sent while the connection was
 * down (or not yet up) are gone and the receiver must look again at what they would have announced.
 */
export class PgListener {
  private client: Client | null = null;
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;

  /** `connect` opens a new connection each time it is called (PostgresPrimary.connectClient, or one server's). */
  constructor(
    private readonly connect: () => Promise<Client>,
    private readonly channel: string,
    private readonly onNotify: (payload: string) => void,
    private readonly onListening: () => void,
    private readonly logger?: Logger,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.client?.end().catch(() => undefined);
    await this.loop;
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(100, 5000);
    const failures = new FailureLog(this.logger && childLogger(this.logger, { channel: this.channel }), 'listen connection');
    while (!this.abort.signal.aborted) {
      let client: Client | null = null;
      try {
        client = await this.connect();
        this.client = client;
        if (this.abort.signal.aborted) break;
        const connection = client;
        const closed = new Promise<void>((resolve) => {
          // `on`, not `once`: a terminated connection reports twice (the server's FATAL error, then the socket's
          // end), and an 'error' nobody listens to ends the process.
          connection.on('error', (error) => {
            if (!this.abort.signal.aborted) failures.failed(error);
            resolve();
          });
          connection.once('end', () => resolve());
        });
        connection.on('notification', (n) => {
          if (n.channel === this.channel) this.onNotify(n.payload ?? '');
        });
        await connection.query(`LISTEN "${this.channel}"`);
        backoff.reset();
        failures.succeeded();
        this.onListening();
        await closed;
      } catch (error) {
        if (!this.abort.signal.aborted) failures.failed(error);
      } finally {
        await client?.end().catch(() => undefined);
      }
      if (!this.abort.signal.aborted) await delay(backoff.next(), this.abort.signal);
    }
  }
}
