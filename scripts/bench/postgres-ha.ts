// Issue 18, Postgres side: what a primary with a streaming standby costs the relay, on private servers.
//   (a) commit -> subscriber latency at a steady rate with OUTBOX_CONFIRMING_STANDBYS 0 and 1 (no phantom events),
//       alternated (0, 1, 0, 1) so that the machine's drift falls on both;
//   (b) the publishing stall of a kill -9 of the primary under load, the standby promoted, the relay following
//       through its host list (lease 2000 ms), on a fresh pair each run.
//   npm run bench:postgres-ha -- [--rate 200] [--seconds 10] [--failovers 3]   (after npm run build)
import { parseArgs } from 'node:util';
import type { NatsConnection } from '@nats-io/nats-core';
import { connectNats, defaultRelaySettings, migrateOutbox, Outbox, OutboxRelay, type RelaySettings } from '@outbox-relay/outbox';
import { createTestStream, PrivatePostgresPair, quietLogger, TEST_NATS_URL, waitFor } from '@outbox-relay/test-support';
import { fmtMs, sleep, summarize, wallMs, type Summary } from './lib/stats';

const SCHEMA = 'outbox';

async function startPair(): Promise<PrivatePostgresPair> {
  const pair = await PrivatePostgresPair.start();
  await migrateOutbox({ pool: pair.pool(1), schema: SCHEMA, partitions: 4 });
  return pair;
}

/** Commits one event per tick at `rate`/s (open loop); notes each commit's wall time by event id. */
function steadyWriter(outbox: Outbox, rate: number) {
  const committedAt = new Map<string, number>();
  let failures = 0;
  let n = 0;
  let stopped = false;
  const timer = setInterval(() => {
    if (stopped) return;
    const i = n++;
    outbox
      .transaction((tx) => outbox.enqueue(tx, { aggregateType: 'Account', aggregateId: `acct-${i % 64}`, eventType: 'Stepped', payload: { i } }))
      .then(([event]) => committedAt.set(event!.id, wallMs()))
      .catch(() => failures++);
  }, 1000 / rate);
  return {
    committedAt,
    failures: () => failures,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** Every message on the stream's subjects, by event id, with its receive time. */
function receiver(nc: NatsConnection, subjectPrefix: string) {
  const receivedAt = new Map<string, number>();
  const sub = nc.subscribe(`${subjectPrefix}.>`, {
    callback: (_error, msg) => {
      const id = msg.headers?.get('Nats-Msg-Id');
      if (id && !receivedAt.has(id)) receivedAt.set(id, wallMs());
    },
  });
  return { receivedAt, stop: () => sub.unsubscribe() };
}

interface RunOnPair {
  pair: PrivatePostgresPair;
  writer: ReturnType<typeof steadyWriter>;
  receivedAt: Map<string, number>;
}

/**
 * A fresh pair with a relay leading every partition (lease 2000 ms) and a writer at `rate`/s already running,
 * handed to `work`; everything is stopped and removed afterwards.
 */
async function onFreshPair<T>(nats: NatsConnection, rate: number, settings: Partial<RelaySettings>, work: (run: RunOnPair) => Promise<T>): Promise<T> {
  const pair = await startPair();
  const ns = await createTestStream('pgha');
  const target = pair.target();
  const relay = new OutboxRelay(
    { pool: pair.pool(6, target), leasePool: pair.pool(2, target), nats, logger: quietLogger },
    defaultRelaySettings({ schema: SCHEMA, stream: ns.stream, subjectPrefix: ns.subjectPrefix, leaseMs: 2000, renewMs: 500, ...settings }),
  );
  const rx = receiver(ns.nc, ns.subjectPrefix);
  const outbox = new Outbox({ pool: pair.pool(8), schema: SCHEMA });
  let writer: ReturnType<typeof steadyWriter> | null = null;
  try {
    await relay.start();
    await waitFor('the relay leads every partition', () => (relay.status().partitions.every((p) => p.leading) ? true : undefined), 30_000);
    writer = steadyWriter(outbox, rate);
    return await work({ pair, writer, receivedAt: rx.receivedAt });
  } finally {
    writer?.stop();
    rx.stop();
    await relay.stop();
    await outbox.close();
    await ns.drop();
    await pair.destroy();
  }
}

function latencyRun(nats: NatsConnection, confirmingStandbys: number, rate: number, seconds: number): Promise<Summary> {
  return onFreshPair(nats, rate, { confirmingStandbys }, async ({ writer, receivedAt }) => {
    await sleep(seconds * 1000);
    writer.stop();
    await waitFor('every committed event received', () => ([...writer.committedAt.keys()].every((id) => receivedAt.has(id)) ? true : undefined), 60_000);
    return summarize([...writer.committedAt].map(([id, at]) => receivedAt.get(id)! - at));
  });
}

function failoverRun(nats: NatsConnection, rate: number): Promise<{ promoteMs: number; stallMs: number; failedCommits: number }> {
  return onFreshPair(nats, rate, {}, async ({ pair, writer, receivedAt }) => {
    await sleep(3000);
    const killedAt = wallMs();
    await pair.primary.kill();
    await pair.standby.promote();
    const promotedAt = wallMs();
    // Publishing has resumed once an event committed after the promotion is received.
    const resumedAt = await waitFor('an event committed after the promotion received', () => {
      for (const [id, at] of writer.committedAt) if (at >= promotedAt && receivedAt.has(id)) return receivedAt.get(id)!;
      return undefined;
    }, 120_000);
    const lastBefore = Math.max(...[...receivedAt.values()].filter((t) => t <= killedAt));
    return { promoteMs: promotedAt - killedAt, stallMs: resumedAt - lastBefore, failedCommits: writer.failures() };
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rate: { type: 'string', default: '200' }, seconds: { type: 'string', default: '10' }, failovers: { type: 'string', default: '3' } } });
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const nats = await connectNats({ url: TEST_NATS_URL, name: 'bench postgres-ha relay' });
  try {
    console.log(`(a) commit -> subscriber at ${rate}/s for ${seconds} s, primary + one asynchronous standby on loopback`);
    console.log('confirmingStandbys | events |  p50 |  p95 |  p99 |  max  (ms)');
    for (const confirming of [0, 1, 0, 1]) {
      const s = await latencyRun(nats, confirming, rate, seconds);
      console.log(`${String(confirming).padStart(18)} | ${String(s.count).padStart(6)} | ${fmtMs(s.p50).padStart(4)} | ${fmtMs(s.p95).padStart(4)} | ${fmtMs(s.p99).padStart(4)} | ${fmtMs(s.max)}`);
    }
    console.log(`\n(b) kill -9 of the primary under ${rate}/s, standby promoted (pg_ctl promote), relay lease 2000 ms`);
    console.log('run | kill -> promoted | last publish before -> first after the promotion | commits refused');
    for (let run = 1; run <= Number(values.failovers); run++) {
      const f = await failoverRun(nats, rate);
      console.log(`${String(run).padStart(3)} | ${fmtMs(f.promoteMs).padStart(16)} ms | ${fmtMs(f.stallMs).padStart(43)} ms | ${f.failedCommits}`);
    }
  } finally {
    await nats.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
