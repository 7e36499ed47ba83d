/**
 * The payment worker in process against real Postgres and JetStream: an order paid end to end, the same
 * OrderCreated delivered again (re-published with a new Nats-Msg-Id, and replayed through the outbox) processed
 * once, and a crash after commit but before the ack leaving one effect.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { randomUUID } from 'node:crypto';
import { Inbox, ensureDurableConsumer, inboxEventFromMsg, inboxTables } from '@outbox-relay/inbox';
import { PaymentHandler, PaymentRepository, type PaymentWorker } from '@outbox-relay/payments';
import { readStream, waitFor, quietLogger } from '@outbox-relay/test-support';
import { CONSUMER, createPaymentsTestEnv, type PaymentsTestEnv } from './support/payments-env';

let env: PaymentsTestEnv;

beforeAll(async () => {
  env = await createPaymentsTestEnv('payflow');
});
afterAll(async () => {
  await env.drop();
});

async function streamEventsOf(orderId: string) {
  return (await readStream(env.ns.nc, env.ns.stream)).filter((m) => m.aggregateId === orderId);
}

describe('payment worker', () => {
  let worker: PaymentWorker;
  let paid: { orderId: string; eventId: string };

  it('pays an order end to end: OrderCreated in → PAID, version bumped, PaymentSucceeded once in outbox and stream', async () => {
    worker = await env.startWorker();
    const { order, eventId } = await env.createOrder();
    paid = { orderId: order.id, eventId };
    expect(order).toMatchObject({ state: 'CREATED', version: 1 });

    const after = await waitFor('the order to be PAID', async () => {
      const o = await env.order(order.id);
      return o.state === 'PAID' ? o : undefined;
    });
    // CREATED(1) → PAYMENT_PENDING(2) → PAID(3)
    expect(after.version).toBe(3);
    expect(await env.inboxRow(eventId)).toEqual({ outcome: 'processed' });

    const ledger = await env.fake.find(order.id);
    expect(ledger).toMatchObject({ orderId: order.id, calls: 1 });
    expect(ledger!.chargeId).toEqual(expect.any(String));
    const { rows: payments } = await env.pool.query(`SELECT status, charge_id, source_event_id FROM "${env.paymentsSchema}".payments WHERE order_id = $1`, [order.id]);
    expect(payments).toEqual([{ status: 'SUCCEEDED', charge_id: ledger!.chargeId, source_event_id: eventId }]);

    const events = await env.outboxEvents(order.id, 'PaymentSucceeded');
    expect(events).toHaveLength(1);
    expect(events[0]!.payload).toMatchObject({ orderId: order.id, amount: 19.99, currency: 'EUR', chargeId: ledger!.chargeId });
    expect(events[0]!.headers).toMatchObject({ causationId: eventId, correlationId: `corr-${order.id.slice(0, 8)}` });

    const inStream = await waitFor('PaymentSucceeded in the stream', async () => {
      const m = await streamEventsOf(order.id);
      return m.some((e) => e.eventType === 'PaymentSucceeded') ? m : undefined;
    });
    // Same aggregate, so it is published after the order's OrderCreated, and once.
    expect(inStream.map((m) => m.eventType)).toEqual(['OrderCreated', 'PaymentSucceeded']);
    expect(inStream[1]!.headers['Outbox-Correlation-Id']).toBe(`corr-${order.id.slice(0, 8)}`);
    expect(worker.stats()).toMatchObject({ processed: 1, succeeded: 1, duplicates: 0, failed: 0, deadLettered: 0 });
  });

  it('processes an OrderCreated re-published with a new Nats-Msg-Id but the same Outbox-Event-Id once', async () => {
    const original = (await streamEventsOf(paid.orderId)).find((m) => m.eventType === 'OrderCreated')!;
    const h = natsHeaders();
    for (const [name, value] of Object.entries(original.headers)) if (name !== 'Nats-Msg-Id') h.set(name, value);
    const ack = await jetstream(env.ns.nc).publish(original.subject, JSON.stringify(original.data), { msgID: randomUUID(), headers: h });
    expect(ack.duplicate).toBe(false);

    await waitFor('the duplicate to be counted', () => worker.stats().duplicates === 1);
    expect(await env.order(paid.orderId)).toMatchObject({ state: 'PAID', version: 3 });
    expect(await env.outboxEvents(paid.orderId, 'PaymentSucceeded')).toHaveLength(1);
    expect((await env.fake.find(paid.orderId))!.calls).toBe(1);
    expect(worker.stats()).toMatchObject({ processed: 1, succeeded: 1, duplicates: 1 });
  });

  it('skips a replay of that OrderCreated through the outbox (new row, replayOf = original id)', async () => {
    const [original] = await env.pool.query(`SELECT payload FROM "${env.outboxSchema}".outbox WHERE id = $1`, [paid.eventId]).then((r) => r.rows);
    await env.outbox.transaction((tx) =>
      env.outbox.enqueue(tx, { aggregateType: 'Order', aggregateId: paid.orderId, eventType: 'OrderCreated', payload: original.payload, headers: { replayOf: paid.eventId } }),
    );
    await waitFor('the replay to be counted as a duplicate', () => worker.stats().duplicates === 2);
    const replayed = (await streamEventsOf(paid.orderId)).filter((m) => m.headers['Outbox-Replay-Of'] === paid.eventId);
    expect(replayed).toHaveLength(1);
    expect(replayed[0]!.headers['Outbox-Event-Id']).toBe(paid.eventId);
    expect(await env.order(paid.orderId)).toMatchObject({ state: 'PAID', version: 3 });
    expect(await env.outboxEvents(paid.orderId, 'PaymentSucceeded')).toHaveLength(1);
    expect((await env.fake.find(paid.orderId))!.calls).toBe(1);
    await worker.stop();
  });

  it('crash after commit, before the ack: the redelivery (after ack_wait) is a duplicate, one effect', async () => {
    // A consumer of its own with a short ack_wait; the "crashed" worker handles and commits but never acks.
    const consumerName = `${CONSUMER}-crash`;
    const jsm = await jetstreamManager(env.ns.nc);
    const filterSubject = `${env.ns.subjectPrefix}.Order.OrderCreated`;
    const ackWaitMs = 1000;
    // Start from new messages only: earlier orders are settled by the first worker already.
    const { order, eventId } = await env.createOrder();
    await waitFor('OrderCreated in the stream', async () => (await streamEventsOf(order.id)).length === 1);
    await ensureDurableConsumer(jsm, { stream: env.ns.stream, name: consumerName, filterSubject, ackWaitMs, maxAckPending: 100, remedy: 'delete it' });
    const consumer = await jetstream(env.ns.nc).consumers.get(env.ns.stream, consumerName);
    let event;
    for (;;) {
      const m = await consumer.next({ expires: 5000 });
      if (!m) throw new Error('no message');
      const e = inboxEventFromMsg(m);
      if (e.eventId === eventId) {
        event = e;
        break;
      }
      m.ack(); // older orders: not this test's business
    }
    const inbox = new Inbox({ pool: env.pool, schema: env.inboxSchema, consumer: consumerName });
    const handler = new PaymentHandler({
      pool: env.pool,
      orders: env.orders,
      payments: new PaymentRepository(env.paymentsSchema),
      gateway: env.gateway,
      outbox: env.outbox,
      logger: quietLogger,
    });
    const first = await inbox.handleOnce(event, handler.handle);
    expect(first).toMatchObject({ status: 'processed', value: { outcome: 'paid', version: 3 } });
    // ...and the process "dies" here: no ack.

    const restarted = await env.startWorker({ consumerName, ackWaitMs });
    await waitFor('the redelivery to be skipped as a duplicate', () => restarted.stats().duplicates >= 1, 10_000);
    expect(restarted.stats()).toMatchObject({ processed: 0, succeeded: 0 });
    expect(await env.order(order.id)).toMatchObject({ state: 'PAID', version: 3 });
    expect(await env.outboxEvents(order.id, 'PaymentSucceeded')).toHaveLength(1);
    expect(env.gateway.callsFor(order.id)).toHaveLength(1);
    expect((await env.fake.find(order.id))!.calls).toBe(1);
    await waitFor('the redelivery to be acked', async () => (await jsm.consumers.info(env.ns.stream, consumerName)).num_ack_pending === 0);
    await restarted.stop();
    await jsm.consumers.delete(env.ns.stream, consumerName);
  });

  it('sweeps its inbox: rows past INBOX_RETENTION go, recent ones (duplicate protection) stay', async () => {
    const t = inboxTables(env.inboxSchema);
    await env.pool.query(
      `INSERT INTO ${t.inbox} (consumer, event_id, event_type, subject, processed_at)
       VALUES ($1, 'ancient', 'OrderCreated', 's', now() - interval '8 days'), ($1, 'recent', 'OrderCreated', 's', now() - interval '1 day')`,
      [`${CONSUMER}-sweep`],
    );
    const sweeping = await env.startWorker({
      consumerName: `${CONSUMER}-sweep`,
      inboxRetention: { processedMs: 7 * 86_400_000, deadLetterMs: 30 * 86_400_000, intervalMs: 50 },
    });
    await waitFor('the old inbox row swept', async () => {
      // (The new durable also processes this file's earlier OrderCreated events: look only at the two planted rows.)
      const { rows } = await env.pool.query(
        `SELECT event_id FROM ${t.inbox} WHERE consumer = $1 AND event_id IN ('ancient', 'recent')`,
        [`${CONSUMER}-sweep`],
      );
      return rows.length === 1 ? rows : undefined;
    }).then((rows) => expect(rows).toEqual([{ event_id: 'recent' }]));
    await sweeping.stop();
  });
});
