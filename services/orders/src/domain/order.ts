import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { EventHeaders, OutboxEventInput } from '@outbox-relay/outbox';

export const ORDER_STATES = ['CREATED', 'PAYMENT_PENDING', 'PAID', 'FAILED'] as const;
export type OrderState = (typeof ORDER_STATES)[number];

export interface Order {
  id: string;
  customerId: string;
  /** Decimal amount; at most 2 decimals and below 10^12, so a double holds it exactly enough to round-trip. */
  amount: number;
  currency: string;
  state: OrderState;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** Largest accepted amount: generous for one order, far inside numeric(14,2). */
export const MAX_AMOUNT = 1_000_000_000;
export const DEFAULT_CURRENCY = 'EUR';

// Currencies in circulation as known to this runtime's ICU data (ISO 4217 codes).
const knownCurrencies = new Set(Intl.supportedValuesOf('currency'));

/** Body of `POST /orders`. Unknown fields are rejected so a misspelt field is never silently ignored. */
export const createOrderRequestSchema = z.strictObject(
  {
  customerId: z.uuid({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a UUID') }),
  amount: z
    .number({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a number') })
    .positive({ message: 'must be greater than 0', abort: true })
    .max(MAX_AMOUNT, { message: `must be at most ${MAX_AMOUNT}`, abort: true })
    .refine((v) => Number(v.toFixed(2)) === v, 'must have at most 2 decimal places'),
  currency: z
    .string({ error: 'must be a string' })
    .regex(/^[A-Z]{3}$/, { message: 'must be an ISO 4217 code of 3 upper-case letters', abort: true })
    .refine((c) => knownCurrencies.has(c), 'is not a known ISO 4217 currency code')
    .default(DEFAULT_CURRENCY),
  },
  { error: 'must be a JSON object' },
);

export type CreateOrderRequest = z.output<typeof createOrderRequestSchema>;

/**
 * Fingerprint of a create request for the idempotency check: computed from the validated, normalized request,
 * so `{"amount": 10}` and `{"amount": 10.0, "currency": "EUR"}` (the default) count as the same body.
 */
export function requestFingerprint(request: CreateOrderRequest): string {
  const canonical = JSON.stringify([request.customerId.toLowerCase(), request.amount.toFixed(2), request.currency]);
  return createHash('sha256').update(canonical).digest('hex');
}

export const ORDER_AGGREGATE = 'Order';
export const ORDER_CREATED = 'OrderCreated';

export type OrderCreatedPayload = {
  orderId: string;
  customerId: string;
  amount: number;
  currency: string;
  createdAt: string;
};

/** The `OrderCreated` event of a freshly inserted order. */
export function orderCreatedEvent(order: Order, headers: EventHeaders = {}): OutboxEventInput & { payload: OrderCreatedPayload } {
  return {
    aggregateType: ORDER_AGGREGATE,
    aggregateId: order.id,
    eventType: ORDER_CREATED,
    payload: {
      orderId: order.id,
      customerId: order.customerId,
      amount: order.amount,
      currency: order.currency,
      createdAt: order.createdAt.toISOString(),
    },
    headers,
  };
}

/** The JSON shape of an order in HTTP responses. */
export function orderToJson(order: Order) {
  return {
    orderId: order.id,
    customerId: order.customerId,
    amount: order.amount,
    currency: order.currency,
    state: order.state,
    version: order.version,
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
  };
}
