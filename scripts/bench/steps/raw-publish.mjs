// (2) Raw limit of the publish path: one Node client publishing to JetStream with Nats-Msg-Id, a sliding window
// of 1000 publishes awaiting their PubAck, the same subject shape, headers and payload the relay sends.
// The client is configured for speed (noAsyncTraces: no Error with a stack trace built per request, which costs
// about a quarter of the client's CPU), so this is the limit of the machine, not of one client configuration.
import { randomUUID } from 'node:crypto';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { onCleanup } from '../lib/cleanup.mjs';
import { streamFor } from '../lib/resources.mjs';
import { orderCreatedPayload } from '../lib/events.mjs';

const WINDOW = 1000;

export async function rawPublish(ctx) {
  const { ensureStream } = ctx.outboxLib;
  const n = ctx.sizes.events;
  const { stream, subjectPrefix, remove } = streamFor(ctx, 'rawpub');
  await ensureStream(ctx.jsm, { name: stream, subjectPrefix, duplicateWindowMs: 120_000 });
  const subject = `${subjectPrefix}.Order.OrderCreated`;
  // Built before timing: the relay reads payload text from Postgres, so serializing is not part of its publish either.
  const messages = Array.from({ length: n }, (_, i) => {
    const orderId = randomUUID();
    return { id: randomUUID(), orderId, seq: String(i + 1), correlationId: randomUUID(), data: JSON.stringify(orderCreatedPayload(orderId)) };
  });

  const nc = await connect({ servers: ctx.natsUrl, name: `${ctx.tag} raw publish`, noAsyncTraces: true });
  const closeConnection = onCleanup('raw publish NATS connection', () => nc.close());
  const js = jetstream(nc);
  const started = performance.now();
  await new Promise((resolve, reject) => {
    let next = 0;
    let acked = 0;
    let failed = false;
    const pump = () => {
      while (!failed && next < n && next - acked < WINDOW) {
        const m = messages[next++];
        const h = natsHeaders();
        h.set('Outbox-Event-Id', m.id);
        h.set('Outbox-Event-Type', 'OrderCreated');
        h.set('Outbox-Aggregate-Type', 'Order');
        h.set('Outbox-Aggregate-Id', m.orderId);
        h.set('Outbox-Partition', '0');
        h.set('Outbox-Seq', m.seq);
        h.set('Outbox-Correlation-Id', m.correlationId);
        js.publish(subject, m.data, { msgID: m.id, headers: h }).then(
          () => {
            acked++;
            if (acked === n) resolve();
            else pump();
          },
          (error) => {
            failed = true;
            reject(error);
          },
        );
      }
    };
    pump();
  });
  const seconds = (performance.now() - started) / 1000;
  await closeConnection();
  const info = await ctx.jsm.streams.info(stream);
  await remove();
  const rate = n / seconds;
  ctx.log(`  ${n.toLocaleString('en-US')} messages in ${seconds.toFixed(2)} s: ${Math.round(rate)} msg/s (stored ${info.state.messages})`);
  if (info.state.messages !== n) throw new Error(`raw publish stored ${info.state.messages} of ${n} messages`);
  return { rate, events: n, seconds };
}
