// (5) End-to-end latency, commit → subscriber, at a fixed arrival rate through the real order service, twice:
// with the relay as its own process (as the operator and the demo chart run it; the headline), and with the relay
// embedded in the order service (one event loop for HTTP and relay). An open-loop client sends POST /orders on a
// fixed schedule (it does not wait for answers); a JetStream ordered consumer in this process receives every
// OrderCreated.
//
// Timestamps (one host, so one clock for Postgres, NATS and this process):
//   createdAt   the outbox row's created_at = Postgres now() = start of the transaction that wrote the event
//               (microseconds; read from the outbox after the run). It precedes the commit by that transaction's
//               own duration (one statement plus its fsync), so "createdAt → received" is an UPPER bound of
//               commit → subscriber: the headline figure. (Not the payload's createdAt: the service stamps the
//               order when the request is handled, before its write queues behind the writes in flight.)
//   answered    when this client had the 201 response; the commit happened before it, so "answered → received"
//               is a LOWER bound (it can even be negative).
//   stored      the JetStream message timestamp (when the stream stored it): splits relay time from delivery.
//   received    when the consumer callback ran in this process (performance.timeOrigin + performance.now()).
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { ensureStream, outboxTables } from '@outbox-relay/outbox';
import { getJson, waitFor } from '@outbox-relay/test-support';
import type { BenchContext } from '../lib/context';
import { measureCpu } from '../lib/processes';
import { streamFor } from '../lib/resources';
import { startOrdersService, startRelayProcess } from '../lib/services';
import { sleep, summarize, wallMs, type Summary } from '../lib/stats';

const RATE = 1000;
const MAX_IN_FLIGHT = 2000;

interface SentOrder {
  phase: 'warmup' | 'measured';
  answered: number;
}

function post(agent: http.Agent, url: string, body: string): Promise<{ status: number | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends `rate` requests per second for `seconds`, on schedule; records per-order answer times in `orders`. */
async function openLoop(agent: http.Agent, url: string, rate: number, seconds: number, orders: Map<string, SentOrder>, phase: SentOrder['phase']) {
  const total = Math.round(rate * seconds);
  const started = performance.now();
  let sent = 0;
  let inFlight = 0;
  let maxBehind = 0;
  let failures = 0;
  const pending: Array<Promise<void>> = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    maxBehind = Math.max(maxBehind, due - sent);
    while (sent < due) {
      if (inFlight >= MAX_IN_FLIGHT) break;
      sent++;
      inFlight++;
      const body = JSON.stringify({ customerId: randomUUID(), amount: 42.5, currency: 'EUR' });
      pending.push(
        post(agent, url, body)
          .then(({ status, body: text }) => {
            if (status !== 201) {
              failures++;
              return;
            }
            orders.set((JSON.parse(text) as { orderId: string }).orderId, { phase, answered: wallMs() });
          }, () => void failures++)
          .finally(() => void inFlight--),
      );
    }
    await sleep(1);
  }
  const sendSeconds = (performance.now() - started) / 1000;
  await Promise.all(pending);
  return { sent, sendSeconds, seconds: (performance.now() - started) / 1000, maxBehind, failures };
}

export interface E2eFigures {
  embeddedRelay: boolean;
  rate: number;
  seconds: number;
  sentRate: number;
  completedRate: number;
  maxBehind: number;
  serviceCpu: number;
  created: number;
  failures: number;
  missing: number;
  fromCreated: Summary;
  fromAnswered: Summary;
  relayPart: Summary;
  deliveryPart: Summary;
  writePart: Summary;
}

export interface E2eLatencyFigures extends E2eFigures {
  /** The same with the relay embedded in the order service. */
  embedded: E2eFigures;
}

export async function e2eLatency(ctx: BenchContext): Promise<E2eLatencyFigures> {
  ctx.log('  relay as its own process (as the operator runs it; the order service with ORDERS_RELAY_ENABLED=false):');
  const figures = await measure(ctx, 'e2e', { embedded: false });
  ctx.log('  relay embedded in the order service (ORDERS_RELAY_ENABLED=true, one process for HTTP and relay):');
  return { ...figures, embedded: await measure(ctx, 'e2e_emb', { embedded: true }) };
}

async function measure(ctx: BenchContext, suffix: string, { embedded }: { embedded: boolean }): Promise<E2eFigures> {
  const stream = streamFor(ctx, suffix);
  await ensureStream(ctx.jsm, { name: stream.stream, subjectPrefix: stream.subjectPrefix, duplicateWindowMs: 120_000 });
  const received = new Map<string, { received: number; stored: number }>();
  const consumer = await ctx.js.consumers.get(stream.stream);
  const messages = await consumer.consume();
  let consumerError: unknown = null;
  const consuming = (async () => {
    for await (const m of messages) {
      const at = wallMs();
      const payload = m.json<{ orderId: string }>();
      // timestampNanos is typed bigint but is a number in @nats-io/jetstream 3.3.1; Number() takes either.
      received.set(payload.orderId, { received: at, stored: Number(m.info.timestampNanos) / 1e6 });
    }
  })().catch((error: unknown) => {
    consumerError = error;
  });

  const service = await startOrdersService(ctx, suffix, { relay: embedded, stream });
  const relayProc = embedded ? null : await startRelayProcess(ctx, `relay-${suffix}`, { schema: service.outboxSchema, stream });
  await waitFor('the relay to lead', async () => (await getJson<{ leading?: boolean }>(`${(relayProc ?? service).url}/status`, 30_000))?.leading ?? false, 30_000);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const orders = new Map<string, SentOrder>();
  const warmupSeconds = ctx.quick ? 1 : 2;
  const seconds = ctx.quick ? 3 : 20;
  await openLoop(agent, `${service.url}/orders`, RATE, warmupSeconds, orders, 'warmup');
  const serviceCpu = measureCpu(service.proc.pid);
  const load = await openLoop(agent, `${service.url}/orders`, RATE, seconds, orders, 'measured');
  const cpu = serviceCpu.stop();
  const measured = [...orders].filter(([, o]) => o.phase === 'measured');
  await waitFor(
    `all ${orders.size} orders at the subscriber`,
    () => [...orders.keys()].every((id) => received.has(id)),
    30_000,
    100,
  ).catch(() => undefined);
  messages.stop();
  await consuming;
  if (consumerError) throw consumerError;
  agent.destroy();
  const { rows: written } = await ctx.pool.query<{ id: string; ms: number }>(
    `SELECT aggregate_id AS id, extract(epoch FROM created_at)::float8 * 1000 AS ms FROM ${outboxTables(service.outboxSchema).outbox}`,
  );
  const eventCreatedAt = new Map(written.map((row) => [row.id, row.ms]));
  await service.proc.remove();
  await relayProc?.proc.remove();
  await stream.remove();

  const missing = [...orders.keys()].filter((id) => !received.has(id)).length;
  const fromCreated: number[] = [];
  const fromAnswered: number[] = [];
  const relayPart: number[] = [];
  const deliveryPart: number[] = [];
  const writePart: number[] = [];
  for (const [id, order] of measured) {
    const r = received.get(id);
    const createdAt = eventCreatedAt.get(id);
    if (!r || createdAt === undefined) continue;
    fromCreated.push(r.received - createdAt);
    fromAnswered.push(r.received - order.answered);
    relayPart.push(r.stored - createdAt);
    deliveryPart.push(r.received - r.stored);
    writePart.push(order.answered - createdAt);
  }
  const figures: E2eFigures = {
    embeddedRelay: embedded,
    rate: RATE,
    seconds,
    sentRate: load.sent / load.sendSeconds,
    completedRate: measured.length / load.seconds,
    maxBehind: load.maxBehind,
    serviceCpu: cpu,
    created: measured.length,
    failures: load.failures,
    missing,
    fromCreated: summarize(fromCreated),
    fromAnswered: summarize(fromAnswered),
    relayPart: summarize(relayPart),
    deliveryPart: summarize(deliveryPart),
    writePart: summarize(writePart),
  };
  const f = figures.fromCreated;
  ctx.log(
    `  ${measured.length} orders sent at ${figures.sentRate.toFixed(0)}/s, completed at ${figures.completedRate.toFixed(0)}/s (target ${RATE}/s for ${seconds} s): createdAt → subscriber ` +
      `p50 ${f.p50.toFixed(1)} ms, p95 ${f.p95.toFixed(1)} ms, p99 ${f.p99.toFixed(1)} ms, max ${f.max.toFixed(1)} ms`,
  );
  ctx.log(
    `  split p99: createdAt → stored ${figures.relayPart.p99.toFixed(1)} ms, stored → received ${figures.deliveryPart.p99.toFixed(1)} ms; ` +
      `201 answer → received p50 ${figures.fromAnswered.p50.toFixed(1)} ms, p99 ${figures.fromAnswered.p99.toFixed(1)} ms; ` +
      `createdAt → 201 answer (the write's own statement, commit and HTTP answer) p50 ${figures.writePart.p50.toFixed(1)} ms, p99 ${figures.writePart.p99.toFixed(1)} ms`,
  );
  ctx.log(`  service CPU (HTTP${embedded ? ' + embedded relay' : ''}) ${(cpu * 100).toFixed(0)} % of one core; non-201 or failed requests ${load.failures}; client behind schedule by up to ${load.maxBehind} requests (cap ${MAX_IN_FLIGHT} in flight); missing at subscriber ${missing}`);
  if (missing > 0) throw new Error(`${missing} created orders never reached the subscriber`);
  return figures;
}
