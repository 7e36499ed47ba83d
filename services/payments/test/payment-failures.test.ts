/**
 * Gateway failures: retried with growing delays (JetStream nak with delay), PAYMENT_PENDING visible meanwhile,
 * then dead-lettered with the order FAILED and PaymentFailed emitted; the dead letter replayed (documented rule:
 * inbox row deleted, dead letter resolved, replay enqueued with replayOf) after the gateway recovered brings the
 * order to PAID. An invalid payload is dead-lettered at once.
 */
import { jetstream } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { randomUUID } from 'node:crypto';
import type { PaymentWorker } from '@outbox-relay/payments';
import { readStream, waitFor } from '@outbox-relay/test-support';
import { createPaymentsTestEnv, type PaymentsTestEnv } from './support/payments-env';

const BACKOFF = { minMs: 200, maxMs: 5000 };
const MAX_RETRIES = 3;

let env: PaymentsTestEnv;
let worker: PaymentWorker;

beforeAll(async () => {
  env = await createPaymentsTestEnv('payfail');
  worker = await env.startWorker({ maxRetries: MAX_RETRIES, backoff: BACKOFF });
});
afterAll(async () => {
  await env.drop();
});

describe('payment failures', () => {
  let failed: { orderId: string; eventId: string; deadLetterId: string };

  it('retries with growing delays, then dead-letters: attempts = maxRetries + 1, order FAILED, PaymentFailed emitted', async () => {
    env.fake.configure({ failing: true });
    const { order, eventId } = await env.createOrder();

    await waitFor('the first failed charge', () => env.gateway.callsFor(order.id).length >= 1);
    // The PAYMENT_PENDING transition committed on its own, so it shows while the retries go on.
    await waitFor('PAYMENT_PENDING during the retries', async () => (await env.order(order.id)).state === 'PAYMENT_PENDING');

    const [deadLetter] = await waitFor('the dead letter', async () => {
      const rows = await env.deadLetters(eventId);
      return rows.length > 0 ? rows : undefined;
    });
    failed = { orderId: order.id, eventId, deadLetterId: deadLetter!.id };
    expect(deadLetter).toMatchObject({ attempts: MAX_RETRIES + 1, resolved_at: null, payload: { orderId: order.id } });
    expect(deadLetter!.reason).toMatch(/forced failure/);
    expect(deadLetter!.reason).toMatch(/gave up after 4 attempts/);
    expect(await env.inboxRow(eventId)).toEqual({ outcome: 'dead_lettered' });

    // First try + 3 retries, each retry later than the one before by at least the doubled backoff.
    const calls = env.gateway.callsFor(order.id);
    expect(calls).toHaveLength(MAX_RETRIES + 1);
    expect(calls.every((c) => !c.ok)).toBe(true);
    const gaps = calls.slice(1).map((c, i) => c.at - calls[i]!.at);
    const delays = gaps.map((_, i) => BACKOFF.minMs * 2 ** i); // 200, 400, 800
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(delays[i]! - 5));
    expect(gaps[1]!).toBeGreaterThan(gaps[0]!);
    expect(gaps[2]!).toBeGreaterThan(gaps[1]!);

    // CREATED(1) → PAYMENT_PENDING(2) → FAILED(3), in the dead-letter transaction.
    expect(await env.order(order.id)).toMatchObject({ state: 'FAILED', version: 3 });
    const paymentFailed = await env.outboxEvents(order.id, 'PaymentFailed');
    expect(paymentFailed).toHaveLength(1);
    expect(paymentFailed[0]!.payload).toMatchObject({ orderId: order.id, reason: expect.stringMatching(/forced failure/) });
    expect(await env.outboxEvents(order.id, 'PaymentSucceeded')).toHaveLength(0);
    expect((await env.fake.find(order.id))!.chargeId).toBeNull();
    const { rows } = await env.pool.query(`SELECT status FROM "${env.paymentsSchema}".payments WHERE order_id = $1`, [order.id]);
    expect(rows).toEqual([{ status: 'FAILED' }]);
    expect(worker.stats()).toMatchObject({ failed: 4, retried: 3, deadLettered: 1, succeeded: 0 });
  });

  it('replaying the dead letter after the gateway recovered brings the order to PAID', async () => {
    env.fake.configure({ failing: false });
    const replayId = await env.replayDeadLetter(failed.deadLetterId);

    const paid = await waitFor('the order to be PAID', async () => {
      const o = await env.order(failed.orderId);
      return o.state === 'PAID' ? o : undefined;
    });
    // FAILED(3) → PAYMENT_PENDING(4) → PAID(5)
    expect(paid.version).toBe(5);
    expect(await env.inboxRow(failed.eventId)).toEqual({ outcome: 'processed' });
    const [dl] = await env.deadLetters(failed.eventId);
    expect(dl!.resolved_at).toBeInstanceOf(Date);

    const ledger = await env.fake.find(failed.orderId);
    expect(ledger).toMatchObject({ calls: MAX_RETRIES + 2 });
    expect(ledger!.chargeId).toEqual(expect.any(String));
    const succeeded = await env.outboxEvents(failed.orderId, 'PaymentSucceeded');
    expect(succeeded).toHaveLength(1);
    expect(succeeded[0]!.payload).toMatchObject({ chargeId: ledger!.chargeId });

    // The replay went out under its own message id, carrying the original event id for the inbox.
    const messages = await waitFor('PaymentSucceeded in the stream', async () => {
      const m = (await readStream(env.ns.nc, env.ns.stream)).filter((e) => e.aggregateId === failed.orderId);
      return m.some((e) => e.eventType === 'PaymentSucceeded') ? m : undefined;
    });
    expect(messages.map((m) => m.eventType)).toEqual(['OrderCreated', 'PaymentFailed', 'OrderCreated', 'PaymentSucceeded']);
    expect(messages[2]!.headers).toMatchObject({ 'Nats-Msg-Id': replayId, 'Outbox-Event-Id': failed.eventId, 'Outbox-Replay-Of': failed.eventId });
    expect(worker.stats()).toMatchObject({ succeeded: 1, deadLettered: 1 });
  });

  it('dead-letters an OrderCreated with an invalid payload at once, without calling the gateway', async () => {
    const eventId = randomUUID();
    const orderId = randomUUID();
    const h = natsHeaders();
    h.set('Outbox-Event-Id', eventId);
    h.set('Outbox-Event-Type', 'OrderCreated');
    h.set('Outbox-Aggregate-Type', 'Order');
    h.set('Outbox-Aggregate-Id', orderId);
    const before = env.gateway.calls.length;
    await jetstream(env.ns.nc).publish(`${env.ns.subjectPrefix}.Order.OrderCreated`, JSON.stringify({ amount: 5 }), { msgID: eventId, headers: h });

    const [dl] = await waitFor('the dead letter', async () => {
      const rows = await env.deadLetters(eventId);
      return rows.length > 0 ? rows : undefined;
    });
    expect(dl).toMatchObject({ attempts: 1 });
    expect(dl!.reason).toMatch(/PermanentHandlerError: OrderCreated payload is invalid \(orderId, currency\)/);
    expect(env.gateway.calls.length).toBe(before);
  });
});
