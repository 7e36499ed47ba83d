// Relay drain throughput against the raw JetStream publish limit, both measured in this run on this machine.
// Usage (after `npm run build`): node scripts/bench/drain.mjs [events=20000] [batchSize=1000]
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/nats-core';
import outboxLib from '../../services/outbox/dist/mod.js';

const { Outbox, OutboxRelay, defaultRelaySettings, migrateOutbox, createLogger, ensureStream } = outboxLib;
const N = Number(process.argv[2] ?? 20000);
const BATCH = Number(process.argv[3] ?? 1000);
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const tag = `bench_${Date.now().toString(36)}`;
const payload = JSON.stringify({ orderId: randomUUID(), customerId: randomUUID(), amount: 42.5, currency: 'EUR' });

const nc = await connect({ servers: NATS_URL });
const jsm = await jetstreamManager(nc);
const js = jetstream(nc);

async function rawPublish() {
  const stream = `${tag}_RAW`.toUpperCase();
  await ensureStream(jsm, { name: stream, subjectPrefix: `${tag}raw`, duplicateWindowMs: 120000 });
  const window = 1000;
  const started = performance.now();
  let inFlight = [];
  for (let i = 0; i < N; i++) {
    const h = headers();
    h.set('Outbox-Event-Type', 'OrderCreated');
    inFlight.push(js.publish(`${tag}raw.Order.OrderCreated`, payload, { msgID: randomUUID(), headers: h }));
    if (inFlight.length >= window) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  }
  await Promise.all(inFlight);
  const rate = N / ((performance.now() - started) / 1000);
  await jsm.streams.delete(stream);
  return rate;
}

async function relayDrain() {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 8 });
  const schema = tag;
  await migrateOutbox({ pool, schema });
  const outbox = new Outbox({ pool, schema });
  for (let i = 0; i < N; i += 500) {
    const events = Array.from({ length: Math.min(500, N - i) }, (_, k) => ({
      aggregateType: 'Order',
      aggregateId: `order-${i + k}`,
      eventType: 'OrderCreated',
      payload: JSON.parse(payload),
    }));
    await outbox.transaction((tx) => outbox.enqueue(tx, events));
  }
  const stream = `${tag}_RELAY`.toUpperCase();
  const relay = new OutboxRelay(
    { pool, nats: nc, logger: createLogger('bench', 'warn') },
    defaultRelaySettings({ schema, stream, subjectPrefix: `${tag}relay`, batchSize: BATCH }),
  );
  const started = performance.now();
  await relay.start();
  for (;;) {
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".outbox WHERE published_at IS NULL`);
    if (rows[0].n === 0) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const rate = N / ((performance.now() - started) / 1000);
  const info = await jsm.streams.info(stream);
  await relay.stop();
  await outbox.close();
  await jsm.streams.delete(stream);
  await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
  await pool.end();
  return { rate, stored: info.state.messages };
}

const raw = await rawPublish();
const drain = await relayDrain();
await nc.close();
console.log(`events: ${N}, batch size: ${BATCH}`);
console.log(`raw JetStream async publish (1000 in flight): ${raw.toFixed(0)} msg/s`);
console.log(`relay drain (read + publish + mark, fenced): ${drain.rate.toFixed(0)} events/s (${drain.stored} stored, ${N - drain.stored} missing)`);
console.log(`ratio drain/raw: ${(drain.rate / raw).toFixed(2)} (target >= 0.9)`);
if (drain.stored !== N) process.exitCode = 1;
