// The worker-thread side of lib/consumer-thread.ts: a JetStream ordered consumer on its own connection and its own
// event loop, which does nothing but note, per OrderCreated, when it arrived and when the stream stored it.
import { parentPort, workerData } from 'node:worker_threads';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { startLoopDelayWindow } from './runtime-metrics';
import { wallMs } from './stats';

export interface ConsumerWorkerData {
  natsUrl: string;
  stream: string;
  name: string;
}

/** Main thread → worker. */
export type ConsumerCommand = { type: 'measure' } | { type: 'await'; ids: string[]; timeoutMs: number } | { type: 'stop' };

/** Worker → main thread. `received` holds [order id, received ms, stored ms]. */
export type ConsumerReport =
  | { type: 'ready' }
  | { type: 'arrived'; missing: number }
  | { type: 'stopped'; received: Array<[string, number, number]>; loop: { loopDelayP99: number; loopDelayMax: number } }
  | { type: 'failed'; message: string };

async function main(port: NonNullable<typeof parentPort>, data: ConsumerWorkerData): Promise<void> {
  const say = (report: ConsumerReport) => port.postMessage(report);
  const nc = await connect({ servers: data.natsUrl.split(','), name: data.name, maxReconnectAttempts: -1 });
  const consumer = await jetstream(nc).consumers.get(data.stream);
  const messages = await consumer.consume();
  const received = new Map<string, [number, number]>();
  let loop = startLoopDelayWindow();
  // The ids an 'await' still waits for, and what ends it.
  const pending: { awaited: { missing: Set<string>; done: () => void } | null } = { awaited: null };
  const consuming = (async () => {
    for await (const m of messages) {
      const at = wallMs();
      const { orderId } = m.json<{ orderId: string }>();
      // timestampNanos is typed bigint but is a number in @nats-io/jetstream 3.x; Number() takes either.
      received.set(orderId, [at, Number(m.info.timestampNanos) / 1e6]);
      const awaited = pending.awaited;
      if (awaited?.missing.delete(orderId) && awaited.missing.size === 0) awaited.done();
    }
  })();
  consuming.catch((error: unknown) => say({ type: 'failed', message: error instanceof Error ? error.message : String(error) }));

  port.on('message', (command: ConsumerCommand) => {
    if (command.type === 'measure') {
      loop.stop();
      loop = startLoopDelayWindow();
    } else if (command.type === 'await') {
      const missing = new Set(command.ids.filter((id) => !received.has(id)));
      const timer = setTimeout(() => finish(), command.timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        pending.awaited = null;
        say({ type: 'arrived', missing: missing.size });
      };
      if (missing.size === 0) finish();
      else pending.awaited = { missing, done: finish };
    } else {
      const delay = loop.stop();
      messages.stop();
      void consuming
        .then(() => nc.close())
        .then(() => say({ type: 'stopped', received: [...received].map(([id, [at, stored]]) => [id, at, stored]), loop: delay }));
    }
  });
  say({ type: 'ready' });
}

if (parentPort) {
  const port = parentPort;
  main(port, workerData as ConsumerWorkerData).catch((error: unknown) => port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) } satisfies ConsumerReport));
}
