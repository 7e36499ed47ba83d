import type { OrderState } from './order';

/**
 * The order lifecycle. PAYMENT_PENDING is entered before the gateway is called and stays visible while payment
 * retries go on; FAILED may go back to PAYMENT_PENDING when its dead letter is replayed after the gateway
 * recovered. PAID is final: money was taken, nothing may undo that here.
 */
export const ORDER_TRANSITIONS: Readonly<Record<OrderState, readonly OrderState[]>> = {
  CREATED: ['PAYMENT_PENDING'],
  PAYMENT_PENDING: ['PAID', 'FAILED'],
  FAILED: ['PAYMENT_PENDING'],
  PAID: [],
};

export function canTransition(from: OrderState, to: OrderState): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

/** Base of the order lifecycle errors; each names the order it is about. */
export class OrderStateError extends Error {
  readonly orderId: string;
  constructor(orderId: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.orderId = orderId;
  }
}

/** `from → to` is not an edge of the lifecycle. Nothing was written. */
export class IllegalTransitionError extends OrderStateError {
  readonly from: OrderState;
  readonly to: OrderState;
  constructor(orderId: string, from: OrderState, to: OrderState) {
    super(orderId, `order ${orderId}: illegal transition ${from} → ${to} (allowed from ${from}: ${ORDER_TRANSITIONS[from].join(', ') || 'none, it is final'})`);
    this.from = from;
    this.to = to;
  }
}

/**
 * The order is no longer at the version the caller read (someone else changed it first: optimistic lock).
 * Nothing was written; re-read and decide again.
 */
export class StaleVersionError extends OrderStateError {
  readonly expectedVersion: number;
  readonly actualVersion: number | undefined;
  constructor(orderId: string, expectedVersion: number, actualVersion: number | undefined) {
    super(orderId, `order ${orderId}: expected version ${expectedVersion}, found ${actualVersion ?? 'a newer one'}`);
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

export class OrderNotFoundError extends OrderStateError {
  constructor(orderId: string) {
    super(orderId, `order ${orderId} not found`);
  }
}

/** Throws `IllegalTransitionError` unless `from → to` is allowed. */
export function assertTransition(orderId: string, from: OrderState, to: OrderState): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(orderId, from, to);
}
