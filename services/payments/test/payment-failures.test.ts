/**
 * Gateway failures: retried with growing delays (JetStream nak with delay), the payment PENDING and announced
 * once (one PaymentStarted) meanwhile, then dead-lettered with the payment FAILED and PaymentFailed emitted; the
 * dead letter replayed (documented rule: inbox row deleted, dead letter resolved, replay enqueued with replayOf)
 * after the gateway recovered starts the payment again and it succeeds. A dead letter reaching a payment that
 * already succeeded changes and emits nothing. An invalid payload is dead-lettered at once.
 */
import { jetstream } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { randomUUID } from 'node:crypto';
import { Inbox, type InboxEvent } from '@outbox-relay/inbox';
import type { PaymentWorker } from '@outbox-relay/payments';
import { readStream, waitFor } from '@outbox-relay/test-support';
import { CONSUMER, createPaymentsTestEnv, type PaymentsTestEnv } from './support/payments-env';
import { messagesOf } from './support/payment-records';

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

const eventTypes = (events: Array<{ eventType: string }>) => events.map((e) => e.eventType);

describe('payment failures', () => {
  let failed: { orderId: string; eventId: string; deadLetterId: string };

  it('retries with growing delays, then dead-letters: attempts = maxRetries + 1, payment FAILED, PaymentFailed emitted', async () => {
    env.fake.configure({ failing: true });
    const { orderId, eventId } = await env.publishOrderCreated();

    // The start committed on its own, so the payment stays PENDING, announced once, while the retries go on.
    await waitFor('a retried charge', () => env.gateway.callsFor(orderId).length >= 2);
    expect(await env.payment(orderId)).toEqual({ status: 'PENDING', charge_id: null, failure_reason: null, source_event_id: eventId });
    expect(eventTypes(await env.paymentEvents(orderId))).toEqual(['PaymentStarted']);

    const [deadLetter] = await waitFor('the dead letter', async () => {
      const rows = await env.deadLetters(eventId);
      return rows.length > 0 ? rows : undefined;
    });
    failed = { orderId, eventId, deadLetterId: deadLetter!.id };
    expect(deadLetter).toMatchObject({ attempts: MAX_RETRIES + 1, resolved_at: null, payload: { orderId } });
    expect(deadLetter!.reason).toMatch(/forced failure/);
    expect(deadLetter!.reason).toMatch(/gave up after 4 attempts/);
    expect(await env.inboxRow(eventId)).toEqual({ outcome: 'dead_lettered' });

    // First try + 3 retries, each retry later than the one before by at least the doubled backoff.
    const calls = env.gateway.callsFor(orderId);
    expect(calls).toHaveLength(MAX_RETRIES + 1);
    expect(calls.every((c) => !c.ok)).toBe(true);
    const gaps = calls.slice(1).map((c, i) => c.at - calls[i]!.at);
    const delays = gaps.map((_, i) => BACKOFF.minMs * 2 ** i); // 200, 400, 800
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(delays[i]! - 5));
    expect(gaps[1]!).toBeGreaterThan(gaps[0]!);
    expect(gaps[2]!).toBeGreaterThan(gaps[1]!);

    // FAILED and PaymentFailed in the dead-letter transaction; four attempts, still one PaymentStarted.
    expect(await env.payment(orderId)).toEqual({
      status: 'FAILED',
      charge_id: null,
      failure_reason: expect.stringMatching(/forced failure/),
      source_event_id: eventId,
    });
    const events = await env.paymentEvents(orderId);
    expect(eventTypes(events)).toEqual(['PaymentStarted', 'PaymentFailed']);
    expect(events[1]!.payload).toMatchObject({ orderId, amount: 19.99, currency: 'EUR', reason: expect.stringMatching(/forced failure/), failedAt: expect.any(String) });
    expect(events[1]!.headers).toMatchObject({ causationId: eventId, correlationId: `corr-${orderId.slice(0, 8)}` });
    expect((await env.fake.find(orderId))!.chargeId).toBeNull();
    expect(worker.stats()).toMatchObject({ failed: 4, retried: 3, deadLettered: 1, succeeded: 0 });
  });

  it('replaying the dead letter after the gateway recovered starts the payment again (PaymentStarted) and it succeeds', async () => {
    env.fake.configure({ failing: false });
    const replayId = await env.replayDeadLetter(failed.deadLetterId);

    const payment = await waitFor('the payment to succeed', async () => {
      const row = await env.payment(failed.orderId);
      return row?.status === 'SUCCEEDED' ? row : undefined;
    });
    expect(await env.inboxRow(failed.eventId)).toEqual({ outcome: 'processed' });
    const [dl] = await env.deadLetters(failed.eventId);
    expect(dl!.resolved_at).toBeInstanceOf(Date);

    const ledger = await env.fake.find(failed.orderId);
    expect(ledger).toMatchObject({ calls: MAX_RETRIES + 2 });
    expect(ledger!.chargeId).toEqual(expect.any(String));
    // The replay is the original event to the inbox (same Outbox-Event-Id), and the failure is forgotten.
    expect(payment).toEqual({ status: 'SUCCEEDED', charge_id: ledger!.chargeId, failure_reason: null, source_event_id: failed.eventId });
    const events = await env.paymentEvents(failed.orderId);
    expect(eventTypes(events)).toEqual(['PaymentStarted', 'PaymentFailed', 'PaymentStarted', 'PaymentSucceeded']);
    expect(events[3]!.payload).toMatchObject({ chargeId: ledger!.chargeId });

    const messages = await waitFor('PaymentSucceeded in the stream', async () => {
      const m = await readStream(env.ns.nc, env.ns.stream);
      return messagesOf(m, 'Payment', failed.orderId).some((e) => e.eventType === 'PaymentSucceeded') ? m : undefined;
    });
    // The payment's events went out in commit order; the replay under its own message id, carrying the original
    // event id for the inbox.
    expect(eventTypes(messagesOf(messages, 'Payment', failed.orderId))).toEqual(['PaymentStarted', 'PaymentFailed', 'PaymentStarted', 'PaymentSucceeded']);
    const orderEvents = messagesOf(messages, 'Order', failed.orderId);
    expect(eventTypes(orderEvents)).toEqual(['OrderCreated', 'OrderCreated']);
    expect(orderEvents[1]!.headers).toMatchObject({ 'Nats-Msg-Id': replayId, 'Outbox-Event-Id': failed.eventId, 'Outbox-Replay-Of': failed.eventId });
    expect(worker.stats()).toMatchObject({ succeeded: 1, deadLettered: 1 });
  });

  it('leaves a payment that succeeded as it is when a dead letter of its order comes after: no FAILED, no PaymentFailed', async () => {
    // Another OrderCreated of the paid order (its own event id), given up on: the worker's dead-letter effects
    // run, as the consumer runs them, in the dead-letter transaction.
    const handler = env.paymentHandler();
    const inbox = new Inbox({ pool: env.pool, schema: env.inboxSchema, consumer: `${CONSUMER}-late` });
    const before = await env.payment(failed.orderId);
    const event: InboxEvent = {
      eventId: randomUUID(),
      eventType: 'OrderCreated',
      subject: `${env.ns.subjectPrefix}.Order.OrderCreated`,
      streamSeq: undefined,
      deliveryCount: MAX_RETRIES + 1,
      aggregateType: 'Order',
      aggregateId: failed.orderId,
      partition: undefined,
      seq: undefined,
      payload: { orderId: failed.orderId, amount: 19.99, currency: 'EUR' },
      headers: {},
      replayOf: undefined,
      correlationId: undefined,
      traceparent: undefined,
    };
    const reason = 'declined (gave up after 4 attempts)';
    const outcome = await inbox.deadLetter(event, reason, MAX_RETRIES + 1, (tx, e) => handler.onDeadLetter(tx, e, reason));
    expect(outcome).toMatchObject({ status: 'dead_lettered' });
    expect(before).toMatchObject({ status: 'SUCCEEDED' });
    expect(await env.payment(failed.orderId)).toEqual(before);
    expect(eventTypes(await env.paymentEvents(failed.orderId))).toEqual(['PaymentStarted', 'PaymentFailed', 'PaymentStarted', 'PaymentSucceeded']);
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
    // It names no order: no payment is recorded, nothing is announced.
    expect(await env.payment(orderId)).toBeUndefined();
    expect(await env.paymentEvents(orderId)).toEqual([]);
  });
});
