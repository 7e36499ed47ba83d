import { z } from 'zod';
import type { OrderState } from './order';

/**
 * The payment worker's events the order service follows, read with schemas of its own (the fields it needs; the
 * services share no code, only this contract, checked from both sides by `test/e2e/choreography.test.ts`).
 */
export const PAYMENT_EVENTS_AGGREGATE = 'Payment';
export const PAYMENT_EVENT_TYPES = ['PaymentStarted', 'PaymentSucceeded', 'PaymentFailed'] as const;
export type PaymentEventType = (typeof PAYMENT_EVENT_TYPES)[number];

export const paymentEventPayloadSchema = z.object({ orderId: z.uuid() });

export function isPaymentEventType(eventType: string): eventType is PaymentEventType {
  return (PAYMENT_EVENT_TYPES as readonly string[]).includes(eventType);
}

/**
 * The states an order at `from` goes through when it hears `event`, in order (empty: nothing to do). Each step is
 * an edge of ORDER_TRANSITIONS. An outcome heard before its start (a payment that failed before it began) passes
 * through PAYMENT_PENDING; a replayed payment restarts a FAILED order; PAID is final: money taken stays taken, and
 * a late PaymentFailed or PaymentStarted for a paid order changes nothing.
 */
export function statesAfterPaymentEvent(from: OrderState, event: PaymentEventType): OrderState[] {
  if (from === 'PAID') return [];
  switch (event) {
    case 'PaymentStarted':
      return from === 'PAYMENT_PENDING' ? [] : ['PAYMENT_PENDING'];
    case 'PaymentSucceeded':
      return from === 'PAYMENT_PENDING' ? ['PAID'] : ['PAYMENT_PENDING', 'PAID'];
    case 'PaymentFailed':
      if (from === 'FAILED') return [];
      return from === 'PAYMENT_PENDING' ? ['FAILED'] : ['PAYMENT_PENDING', 'FAILED'];
  }
}
