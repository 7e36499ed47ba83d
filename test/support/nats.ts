import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { TEST_NATS_URL, uniqueName } from './env';
import { findNatsServer } from './local-tools';
import { freePort, waitForPort } from './ports';
import { isAlive, markOwner, readPid, reapOrphans, type OrphanKind } from './orphans';

export interface TestStream {
  nc: NatsConnection;
  /** Unique stream name and subject prefix for this test file. */
  stream: string;
  subjectPrefix: string;
  /** Deletes the stream and closes the connection. */
  drop(): Promise<void>;
}

/** Unique stream/subject names on the shared NATS server; the stream itself is created by whoever ensures it. */
export async function createTestStream(prefix: string, url = TEST_NATS_URL): Promise<TestStream> {
  const name = uniqueName(prefix);
  const nc = await connect({ servers: url, name });
  return {
    nc,
    stream: name.toUpperCase(),
    subjectPrefix: name,
    async drop() {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(name.toUpperCase()).catch(() => undefined);
      await nc.close();
    },
  };
}

/**
 * A private nats-server (JetStream on, own store dir and port) that a test may stop and restart to simulate
 * an outage, without disturbing other test files that share the machine's server.
 */
export class PrivateNatsServer {
  private child: ChildProcess | null = null;
  readonly storeDir = mkdtempSync(path.join(os.tmpdir(), PRIVATE_NATS_ORPHANS.prefix));
  /** `args`: more nats-server flags (e.g. TLS: --tlscert, --tlskey, --tlscacert, --tlsverify). */
  constructor(
    readonly port: number,
    private readonly args: readonly string[] = [],
  ) {
    markOwner(this.storeDir);
  }

  static async start(args: readonly string[] = []): Promise<PrivateNatsServer> {
    reapOrphans(PRIVATE_NATS_ORPHANS);
    const server = new PrivateNatsServer(await freePort(), args);
    await server.start();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Its process runs (started, and not stopped or dead since). */
  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    const binary = findNatsServer();
    if (binary === null) {
      const where = process.env.NATS_SERVER_BIN ? `NATS_SERVER_BIN=${process.env.NATS_SERVER_BIN} is not an executable` : 'none at /usr/sbin/nats-server or on PATH';
      throw new Error(`no nats-server: ${where} (apt-get install nats-server, or set NATS_SERVER_BIN)`);
    }
    const child = spawn(binary, ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir, ...this.args], { stdio: 'ignore' });
    this.child = child;
    if (child.pid !== undefined) writeFileSync(path.join(this.storeDir, NATS_PID_FILE), `${child.pid}\n`);
    const failed = new Promise<never>((_, reject) => child.once('error', (error) => reject(new Error(`nats-server (${binary}) did not start: ${error.message}`))));
    failed.catch(() => undefined);
    await Promise.race([waitForPort(this.port, 10_000), failed]);
  }

  /** SIGKILL by default (a crash); SIGTERM is the server's graceful shutdown, as a rolling update stops it. */
  async stop(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    this.child = null;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

const NATS_PID_FILE = 'nats-server.pid';

/** Private nats-servers left by test processes that were killed (see orphans.ts). */
export const PRIVATE_NATS_ORPHANS: OrphanKind = {
  prefix: 'nats-test-',
  serverPid: (dir) => {
    const pid = readPid(path.join(dir, NATS_PID_FILE));
    return pid !== null && isAlive(pid) ? pid : null;
  },
};

/** One message as stored in a stream, with the headers the relay sets. */
export interface StoredMessage {
  streamSeq: number;
  subject: string;
  eventId: string;
  aggregateId: string;
  eventType: string;
  partition: number;
  data: unknown;
  /** The message body as it is stored, byte for byte (UTF-8 decoded). */
  text: string;
  headers: Record<string, string>;
  /** When the stream stored it (the server's clock, ms since the epoch). */
  storedAtMs: number;
}

/** Every message currently in `stream`, in stream order (direct reads by sequence; fine for test-sized streams). */
export async function readStream(nc: NatsConnection, stream: string): Promise<StoredMessage[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const out: StoredMessage[] = [];
  const js = jsm.jetstream();
  const consumer = await js.consumers.get(stream);
  const total = info.state.messages;
  if (total === 0) return out;
  const messages = await consumer.consume();
  for await (const m of messages) {
    const headers: Record<string, string> = {};
    for (const [k, v] of m.headers ?? []) headers[k] = v[0] ?? '';
    out.push({
      streamSeq: m.seq,
      subject: m.subject,
      eventId: headers['Nats-Msg-Id'] ?? '',
      aggregateId: headers['Outbox-Aggregate-Id'] ?? '',
      eventType: headers['Outbox-Event-Type'] ?? '',
      partition: Number(headers['Outbox-Partition']),
      data: m.json(),
      text: Buffer.from(m.data).toString('utf8'),
      headers,
      storedAtMs: Math.floor(Number(m.info.timestampNanos) / 1e6),
    });
    if (m.seq >= info.state.last_seq) break;
  }
  await messages.close();
  return out;
}
