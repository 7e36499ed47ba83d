// The consumer of (5) in a worker thread (lib/consumer-worker.ts). In the main thread it would share the event loop
// of the open-loop client, whose work at thousands of requests per second delays the consumer's callbacks: that
// delay would be counted as delivery. On its own loop, "stored → received" is NATS delivery plus what this
// thread's own loop delay (reported) adds, and the client's loop delay is reported apart.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { onCleanup } from '../../lib/cleanup';
import type { BenchContext } from './context';
import type { ConsumerCommand, ConsumerReport, ConsumerWorkerData } from './consumer-worker';
import type { LoopDelay } from './runtime-metrics';

export interface ReceivedEvent {
  /** When the consumer callback ran (wall clock, ms). */
  received: number;
  /** The JetStream message timestamp (ms). */
  stored: number;
}

export interface ConsumerThread {
  /** Starts the measured window of the consumer thread's event-loop delay. */
  measure(): void;
  /** How many of `ids` have not arrived: as soon as all have, or after `timeoutMs`. */
  awaitIds(ids: string[], timeoutMs: number): Promise<number>;
  /** Stops consuming and the thread: what arrived, and the thread's loop delay since measure(). */
  stop(): Promise<{ received: Map<string, ReceivedEvent>; loop: LoopDelay }>;
}

const REGISTER = path.resolve(__dirname, '../../../test/support/register-ts.cjs');
const ENTRY = path.join(__dirname, 'consumer-worker.ts');

/** A consumer of `stream` from its first message, in a worker thread; stopped by stop() or the run's clean-up. */
export async function startConsumerThread(ctx: BenchContext, stream: string): Promise<ConsumerThread> {
  const workerData: ConsumerWorkerData = { natsUrl: ctx.natsUrl, stream, name: `${ctx.tag} consumer ${stream}` };
  // A .ts entry: the worker loads the repository's TypeScript hook first, as this process was started with it.
  const worker = new Worker(`require(${JSON.stringify(REGISTER)}); require(${JSON.stringify(ENTRY)});`, { eval: true, workerData });
  const remove = onCleanup(`consumer thread of ${stream}`, () => worker.terminate().then(() => undefined));
  let failure: Error | null = null;
  const waiting = new Map<ConsumerReport['type'], { resolve: (report: ConsumerReport) => void; reject: (error: Error) => void }>();
  const fail = (error: Error) => {
    failure ??= error;
    for (const { reject } of waiting.values()) reject(error);
    waiting.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the consumer thread exited (code ${code})`)));
  worker.on('message', (report: ConsumerReport) => {
    if (report.type === 'failed') return fail(new Error(`consumer thread: ${report.message}`));
    const waiter = waiting.get(report.type);
    waiting.delete(report.type);
    waiter?.resolve(report);
  });
  const next = <T extends ConsumerReport['type']>(type: T): Promise<Extract<ConsumerReport, { type: T }>> =>
    failure
      ? Promise.reject(failure)
      : new Promise((resolve, reject) => waiting.set(type, { resolve: resolve as (report: ConsumerReport) => void, reject }));
  const send = (command: ConsumerCommand) => worker.postMessage(command);

  await next('ready');
  return {
    measure: () => send({ type: 'measure' }),
    async awaitIds(ids, timeoutMs) {
      const arrived = next('arrived');
      send({ type: 'await', ids, timeoutMs });
      return (await arrived).missing;
    },
    async stop() {
      const stopped = next('stopped');
      send({ type: 'stop' });
      const report = await stopped;
      await remove();
      return { received: new Map(report.received.map(([id, received, stored]) => [id, { received, stored }])), loop: report.loop };
    },
  };
}
