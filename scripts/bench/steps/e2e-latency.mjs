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
import { streamFor } from '../lib/resources.mjs';
import { measureCpu } from '../lib/processes.mjs';
import { startOrdersService, startRelayProcess } from '../lib/services.mjs';
import { sleep, summarize, waitFor, wallMs } from '../lib/stats.mjs';

const RATE = 1000;
const MAX_IN_FLIGHT = 2000;

function post(agent, url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends `rate` requests per second for `seconds`, on schedule; returns per-order answer times. */
async function openLoop(agent, url, rate, seconds, orders, phase) {
  const total = Math.round(rate * seconds);
  const started = performance.now();
  let sent = 0;
  let inFlight = 0;
  let maxBehind = 0;
  let failures = 0;
  const pending = [];
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
            orders.set(JSON.parse(text).orderId, { phase, answered: wallMs() });
          }, () => failures++)
          .finally(() => inFlight--),
      );
    }
    await sleep(1);
  }
  const sendSeconds = (performance.now() - started) / 1000;
  await Promise.all(pending);
  return { sent, sendSeconds, seconds: (performance.now() - started) / 1000, maxBehind, failures };
}

export async function e2eLatency(ctx) {
  ctx.log('  relay as its own process (as the operator runs it; the order service with ORDERS_RELAY_ENABLED=false):');
  const figures = await measure(ctx, 'e2e', { embedded: false });
  ctx.log('  relay embedded in the order service (ORDERS_RELAY_ENABLED=true, one process for HTTP and relay):');
  figures.embedded = await measure(ctx, 'e2e_emb', { embedded: true });
  return figures;
}

async function measure(ctx, suffix, { embedded }) {
  const stream = streamFor(ctx, suffix);
  await ctx.outboxLib.ensureStream(ctx.jsm, { name: stream.stream, subjectPrefix: stream.subjectPrefix, duplicateWindowMs: 120_000 });
  const received = new Map();
  const consumer = await ctx.js.consumers.get(stream.stream);
  const messages = await consumer.consume();
  let consumerError = null;
  const consuming = (async () => {
    for await (const m of messages) {
      const at = wallMs();
      const payload = m.json();
      // timestampNanos is typed bigint but is a number in @nats-io/jetstream 3.3.1; Number() takes either.
      received.set(payload.orderId, { received: at, stored: Number(m.info.timestampNanos) / 1e6 });
    }
  })().catch((error) => {
    consumerError = error;
  });

  const service = await startOrdersService(ctx, suffix, { relay: embedded, stream });
  const relayProc = embedded ? null : await startRelayProcess(ctx, `relay-${suffix}`, { schema: service.outboxSchema, stream });
  await waitFor('the relay to lead', async () => {
    const res = await fetch(`${(relayProc ?? service).url}/status`).catch(() => null);
    return res?.ok ? (await res.json()).leading : false;
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const orders = new Map();
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
  const { rows: written } = await ctx.pool.query(
    `SELECT aggregate_id AS id, extract(epoch FROM created_at)::float8 * 1000 AS ms FROM "${service.outboxSchema}".outbox`,
  );
  const eventCreatedAt = new Map(written.map((row) => [row.id, row.ms]));
  await service.proc.remove();
  await relayProc?.proc.remove();
  await stream.remove();

  const missing = [...orders.keys()].filter((id) => !received.has(id)).length;
  const fromCreated = [];
  const fromAnswered = [];
  const relayPart = [];
  const deliveryPart = [];
  const writePart = [];
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
  const figures = {
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
