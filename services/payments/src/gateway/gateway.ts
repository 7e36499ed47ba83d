/** What the worker asks a payment provider to do. */
export interface ChargeRequest {
  /**
   * The provider deduplicates by this key: a repeated call (a retry, or a redelivery after a crash) returns the
   * first call's charge instead of charging again. The worker uses the order id.
   */
  idempotencyKey: string;
  orderId: string;
  amount: number;
  currency: string;
}

export interface ChargeResult {
  chargeId: string;
  /** True when the provider answered from an earlier successful call with the same key (nothing new charged). */
  replayed: boolean;
  /** The provider's attempt number for this key (1 on the first call). */
  attempt: number;
}

/** The adapter a payment provider implements. Throws `PaymentGatewayError` when the charge did not happen. */
export interface PaymentGateway {
  readonly name: string;
  charge(request: ChargeRequest): Promise<ChargeResult>;
}

/** The provider declined or failed the charge; nothing was charged. The worker retries with backoff. */
export class PaymentGatewayError extends Error {
  readonly orderId: string;
  readonly attempt: number;
  readonly code: 'declined' | 'unavailable';
  constructor(orderId: string, attempt: number, code: 'declined' | 'unavailable', message: string, options?: { cause?: unknown }) {
    super(`charge for order ${orderId} (attempt ${attempt}) ${code}: ${message}`, options);
    this.name = new.target.name;
    this.orderId = orderId;
    this.attempt = attempt;
    this.code = code;
  }
}
