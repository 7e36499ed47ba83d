// Where the relay's garbage comes from (issue 17, memory): drains a backlog with an OutboxRelay in THIS process
// while V8's sampling heap profiler records every sampled allocation, including those the garbage collector has
// since freed (which is what sets the relay's RSS: its live set is small). Prints the bytes allocated per event,
// by allocating function and by package, then removes what it created.
//   npm run bench:alloc -- [--events 100000] [--interval 4096]   (after npm run build)
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats, defaultRelaySettings, ensureStream, Outbox, OutboxRelay } from '@outbox-relay/outbox';
import { countPendingEvents, createTestSchema, createTestStream, TEST_NATS_URL, waitFor } from '@outbox-relay/test-support';
import { orderCreatedEvent } from './lib/events';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

/** Where an allocation is charged: the project's own file, or the package it happened in. */
function ownerOf(url: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /services\/([^/]+)\/(?:dist|src)\/(.+)$/.exec(url);
  if (own) return `@outbox-relay/${own[1]}/${own[2]}`;
  return url === '' ? '(V8 / native)' : url.startsWith('node:') ? 'node' : url;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { events: { type: 'string', default: '100000' }, interval: { type: 'string', default: '4096' } } });
  const events = Number(values.events);
  const db = await createTestSchema('allocprof');
  const ns = await createTestStream('allocprof');
  const nats = await connectNats({ url: TEST_NATS_URL, name: 'alloc-profile relay' });
  try {
    await ensureStream(await jetstreamManager(ns.nc), { name: ns.stream, subjectPrefix: ns.subjectPrefix, duplicateWindowMs: 120_000 });
    const outbox = new Outbox({ pool: db.pool, schema: db.schema, serializeAggregates: false });
    for (let i = 0; i < events; i += 1000) {
      await outbox.transaction((tx) => outbox.enqueue(tx, Array.from({ length: Math.min(1000, events - i) }, () => orderCreatedEvent())));
    }
    await outbox.close();
    await db.pool.query(`ANALYZE "${db.schema}".outbox`);

    const session = new Session();
    session.connect();
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: Number(values.interval),
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    const relay = new OutboxRelay({ pool: db.pool, nats }, defaultRelaySettings({ schema: db.schema, stream: ns.stream, subjectPrefix: ns.subjectPrefix }));
    const started = performance.now();
    await relay.start();
    await waitFor('the backlog drained', async () => (await countPendingEvents(db.pool, db.schema)) === 0 || undefined, 600_000, 100);
    const seconds = (performance.now() - started) / 1000;
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
    await relay.stop();
    session.disconnect();

    const byFunction = new Map<string, number>();
    const byOwner = new Map<string, number>();
    let total = 0;
    const walk = (node: ProfileNode) => {
      const { functionName, url, lineNumber } = node.callFrame;
      if (node.selfSize > 0) {
        const owner = ownerOf(url);
        const key = `${functionName || '(anonymous)'}  ${owner}:${lineNumber + 1}`;
        byFunction.set(key, (byFunction.get(key) ?? 0) + node.selfSize);
        byOwner.set(owner, (byOwner.get(owner) ?? 0) + node.selfSize);
        total += node.selfSize;
      }
      for (const child of node.children) walk(child);
    };
    walk(profile.head);
    const perEvent = (bytes: number) => `${(bytes / events).toFixed(0).padStart(6)} B/event`;
    console.log(`drained ${events.toLocaleString('en-US')} events in ${seconds.toFixed(1)} s; allocated ${(total / 1048576).toFixed(0)} MiB (${perEvent(total).trim()}), sampled every ${values.interval} bytes`);
    console.log('\nby package / file:');
    for (const [owner, bytes] of [...byOwner].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${perEvent(bytes)}  ${owner}`);
    console.log('\nby allocating function:');
    for (const [key, bytes] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`  ${perEvent(bytes)}  ${key}`);
  } finally {
    await nats.close();
    await ns.drop();
    await db.drop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
