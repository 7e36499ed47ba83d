/**
 * The payment worker in process against real Postgres and JetStream: an order paid end to end (its payments row
 * SUCCEEDED, PaymentStarted then PaymentSucceeded on the Payment aggregate), the same OrderCreated delivered again
 * (re-published with a new Nats-Msg-Id, and replayed through the outbox) processed once, another OrderCreated of
 * a paid order charging nothing and emitting nothing, and a crash after commit but before the ack leaving one
 * effect.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { randomUUID } from 'node:crypto';
import { Inbox, ensureDurableConsumer, inboxEventFromMsg, inboxTables } from '@outbox-relay/inbox';
import type { PaymentWorker } from '@outbox-relay/payments';
import { readStream, waitFor } from '@outbox-relay/test-support';
import { CONSUMER, createPaymentsTestEnv, type PaymentsTestEnv } from './support/payments-env';
import { messagesOf } from './support/payment-records';

let env: PaymentsTestEnv;

beforeAll(async () => {
  env = await createPaymentsTestEnv('payflow');
});
afterAll(async () => {
  await env.drop();
});

async function streamEventsOf(aggregateType: 'Order' | 'Payment', orderId: string) {
  return messagesOf(await readStream(env.ns.nc, env.ns.stream), aggregateType, orderId);
}

const eventTypes = (events: Array<{ eventType: string }>) => events.map((e) => e.eventType);

describe('payment worker', () => {
  let worker: PaymentWorker;
  let paid: { orderId: string; eventId: string; chargeId: string };

  it('pays an order end to end: OrderCreated in → payments row SUCCEEDED, PaymentStarted then PaymentSucceeded once in outbox and stream', async () => {
    worker = await env.startWorker();
    const { orderId, eventId } = await env.publishOrderCreated();
    const correlationId = `corr-${orderId.slice(0, 8)}`;

    const payment = await waitFor('the payment to succeed', async () => {
      const row = await env.payment(orderId);
      return row?.status === 'SUCCEEDED' ? row : undefined;
    });
    expect(await env.inboxRow(eventId)).toEqual({ outcome: 'processed' });
    const ledger = await env.fake.find(orderId);
    expect(ledger).toMatchObject({ orderId, calls: 1 });
    expect(ledger!.chargeId).toEqual(expect.any(String));
    expect(payment).toEqual({ status: 'SUCCEEDED', charge_id: ledger!.chargeId, failure_reason: null, source_event_id: eventId });
    paid = { orderId, eventId, chargeId: ledger!.chargeId! };

    const events = await env.paymentEvents(orderId);
    expect(eventTypes(events)).toEqual(['PaymentStarted', 'PaymentSucceeded']);
    const [started, succeeded] = events;
    expect(started!.payload).toMatchObject({ orderId, amount: 19.99, currency: 'EUR', startedAt: expect.any(String) });
    expect(succeeded!.payload).toMatchObject({ orderId, amount: 19.99, currency: 'EUR', chargeId: ledger!.chargeId, paidAt: expect.any(String) });
    // Both name the OrderCreated they answer and carry its correlation id.
    for (const e of events) expect(e.headers).toMatchObject({ causationId: eventId, correlationId });
    // The worker writes nothing on the order's own aggregate: the order service moves its orders itself.
    const { rows: onOrder } = await env.pool.query(
      `SELECT event_type FROM "${env.outboxSchema}".outbox WHERE aggregate_type = 'Order' AND aggregate_id = $1`,
      [orderId],
    );
    expect(onOrder).toEqual([{ event_type: 'OrderCreated' }]);

    const inStream = await waitFor('PaymentSucceeded in the stream', async () => {
      const m = await streamEventsOf('Payment', orderId);
      return m.some((e) => e.eventType === 'PaymentSucceeded') ? m : undefined;
    });
    // One aggregate, so published in commit order, and each once, on the Payment subjects.
    expect(eventTypes(inStream)).toEqual(['PaymentStarted', 'PaymentSucceeded']);
    expect(inStream.map((m) => m.subject)).toEqual([`${env.ns.subjectPrefix}.Payment.PaymentStarted`, `${env.ns.subjectPrefix}.Payment.PaymentSucceeded`]);
    expect(inStream[1]!.headers['Outbox-Correlation-Id']).toBe(correlationId);
    expect(worker.stats()).toMatchObject({ processed: 1, succeeded: 1, alreadyPaid: 0, duplicates: 0, failed: 0, deadLettered: 0 });
  });

  it('processes an OrderCreated re-published with a new Nats-Msg-Id but the same Outbox-Event-Id once', async () => {
    const [original] = await streamEventsOf('Order', paid.orderId);
    const h = natsHeaders();
    for (const [name, value] of Object.entries(original!.headers)) if (name !== 'Nats-Msg-Id') h.set(name, value);
    const ack = await jetstream(env.ns.nc).publish(original!.subject, JSON.stringify(original!.data), { msgID: randomUUID(), headers: h });
    expect(ack.duplicate).toBe(false);

    await waitFor('the duplicate to be counted', () => worker.stats().duplicates === 1);
    expect(await env.payment(paid.orderId)).toMatchObject({ status: 'SUCCEEDED', charge_id: paid.chargeId, source_event_id: paid.eventId });
    expect(eventTypes(await env.paymentEvents(paid.orderId))).toEqual(['PaymentStarted', 'PaymentSucceeded']);
    expect((await env.fake.find(paid.orderId))!.calls).toBe(1);
    expect(worker.stats()).toMatchObject({ processed: 1, succeeded: 1, duplicates: 1 });
  });

  it('skips a replay of that OrderCreated through the outbox (new row, replayOf = original id)', async () => {
    const [original] = await env.pool.query(`SELECT payload FROM "${env.outboxSchema}".outbox WHERE id = $1`, [paid.eventId]).then((r) => r.rows);
    await env.outbox.transaction((tx) =>
      env.outbox.enqueue(tx, { aggregateType: 'Order', aggregateId: paid.orderId, eventType: 'OrderCreated', payload: original.payload, headers: { replayOf: paid.eventId } }),
    );
    await waitFor('the replay to be counted as a duplicate', () => worker.stats().duplicates === 2);
    const replayed = (await streamEventsOf('Order', paid.orderId)).filter((m) => m.headers['Outbox-Replay-Of'] === paid.eventId);
    expect(replayed).toHaveLength(1);
    expect(replayed[0]!.headers['Outbox-Event-Id']).toBe(paid.eventId);
    expect(await env.payment(paid.orderId)).toMatchObject({ status: 'SUCCEEDED', charge_id: paid.chargeId, source_event_id: paid.eventId });
    expect(eventTypes(await env.paymentEvents(paid.orderId))).toEqual(['PaymentStarted', 'PaymentSucceeded']);
    expect((await env.fake.find(paid.orderId))!.calls).toBe(1);
  });

  it('answers another OrderCreated of a paid order (a new event, not a duplicate) as already paid: no charge, no event', async () => {
    // The inbox cannot catch this one (another event id): the SUCCEEDED payments row must.
    const { eventId } = await env.publishOrderCreated({ orderId: paid.orderId });
    await waitFor('the event to be processed as already paid', () => worker.stats().alreadyPaid === 1);
    expect(await env.inboxRow(eventId)).toEqual({ outcome: 'processed' });
    expect(await env.payment(paid.orderId)).toEqual({ status: 'SUCCEEDED', charge_id: paid.chargeId, failure_reason: null, source_event_id: paid.eventId });
    expect(eventTypes(await env.paymentEvents(paid.orderId))).toEqual(['PaymentStarted', 'PaymentSucceeded']);
    expect(env.gateway.callsFor(paid.orderId)).toHaveLength(1);
    expect(worker.stats()).toMatchObject({ processed: 2, succeeded: 1, alreadyPaid: 1, duplicates: 2 });
    await worker.stop();
  });

  it('crash after commit, before the ack: the redelivery (after ack_wait) is a duplicate, one effect', async () => {
    // A consumer of its own with a short ack_wait; the "crashed" worker handles and commits but never acks.
    const consumerName = `${CONSUMER}-crash`;
    const jsm = await jetstreamManager(env.ns.nc);
    const filterSubject = `${env.ns.subjectPrefix}.Order.OrderCreated`;
    const ackWaitMs = 1000;
    // Start from new messages only: earlier orders are settled by the first worker already.
    const { orderId, eventId } = await env.publishOrderCreated();
    await waitFor('OrderCreated in the stream', async () => (await streamEventsOf('Order', orderId)).length === 1);
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
    const handler = env.paymentHandler();
    const first = await inbox.handleOnce(event, handler.handle);
    expect(first).toEqual({ status: 'processed', value: { outcome: 'paid', orderId, chargeId: expect.any(String), gatewayAttempt: 1 } });
    // ...and the process "dies" here: no ack.

    const restarted = await env.startWorker({ consumerName, ackWaitMs });
    await waitFor('the redelivery to be skipped as a duplicate', () => restarted.stats().duplicates >= 1, 10_000);
    expect(restarted.stats()).toMatchObject({ processed: 0, succeeded: 0, alreadyPaid: 0 });
    expect(await env.payment(orderId)).toMatchObject({ status: 'SUCCEEDED', source_event_id: eventId });
    expect(eventTypes(await env.paymentEvents(orderId))).toEqual(['PaymentStarted', 'PaymentSucceeded']);
    expect(env.gateway.callsFor(orderId)).toHaveLength(1);
    expect((await env.fake.find(orderId))!.calls).toBe(1);
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
