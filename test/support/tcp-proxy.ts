/**
 * A TCP proxy on a free loopback port in front of a server (nats-server in the tests), to fail the network rather
 * than the server: `dropReplies()` loses what the server sends while the clients' bytes still arrive (messages
 * stored, acknowledgements lost), `cut()` closes every connection and refuses new ones until `restore()`. That is
 * the "ack lost while NATS was away" case, which killing the server only produces by luck. `holdClientBytes()`
 * stops reading what the clients send (a slow or stuck network): their kernel buffers fill and the bytes they
 * write next stay queued in their own process.
 */
import net from 'node:net';

type Mode = 'open' | 'drop-replies' | 'cut';

export class TcpProxy {
  private mode: Mode = 'open';
  private holding = false;
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly upstreamPort: number,
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  static async start(upstreamPort: number): Promise<TcpProxy> {
    const server = net.createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
    return new TcpProxy(server, port, upstreamPort);
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** From now on the server's bytes are thrown away; the clients' bytes still reach the server. */
  dropReplies(): void {
    this.mode = 'drop-replies';
  }

  /** Cuts every connection and refuses new ones until `restore()`. */
  cut(): void {
    this.mode = 'cut';
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.pairs.clear();
  }

  restore(): void {
    this.mode = 'open';
  }

  /** Stops reading from the clients (connections stay open) until `releaseClientBytes()`. */
  holdClientBytes(): void {
    this.holding = true;
    for (const pair of this.pairs) pair.client.pause();
  }

  releaseClientBytes(): void {
    this.holding = false;
    for (const pair of this.pairs) pair.client.resume();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined);
    if (this.mode === 'cut') {
      client.destroy();
      return;
    }
    // Paused until the server answers: nothing the client sends first may be lost.
    client.pause();
    const upstream = net.connect(this.upstreamPort, '127.0.0.1');
    const pair = { client, upstream };
    this.pairs.add(pair);
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', close);
    upstream.on('close', close);
    client.on('close', close);
    const resumeClient = () => {
      if (!this.holding) client.resume();
    };
    upstream.on('connect', resumeClient);
    client.on('data', (chunk) => {
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', resumeClient);
    upstream.on('data', (chunk) => {
      if (this.mode === 'open' && !client.write(chunk)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
  }
}
