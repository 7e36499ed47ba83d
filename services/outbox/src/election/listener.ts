import { Client, type ClientConfig } from 'pg';
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

  constructor(
    private readonly connection: ClientConfig,
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
      const client = new Client(this.connection);
      this.client = client;
      try {
        const closed = new Promise<void>((resolve) => {
          // `on`, not `once`: a terminated connection reports twice (the server's FATAL error, then the socket's
          // end), and an 'error' nobody listens to ends the process.
          client.on('error', (error) => {
            if (!this.abort.signal.aborted) failures.failed(error);
            resolve();
          });
          client.once('end', () => resolve());
        });
        client.on('notification', (n) => {
          if (n.channel === this.channel) this.onNotify(n.payload ?? '');
        });
        await client.connect();
        await client.query(`LISTEN "${this.channel}"`);
        backoff.reset();
        failures.succeeded();
        this.onListening();
        await closed;
      } catch (error) {
        if (!this.abort.signal.aborted) failures.failed(error);
      }
      await client.end().catch(() => undefined);
      if (!this.abort.signal.aborted) await delay(backoff.next(), this.abort.signal);
    }
  }
}
