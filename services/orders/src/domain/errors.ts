/** An `Idempotency-Key` was reused with a different request body. Nothing was written. */
export class IdempotencyConflictError extends Error {
  constructor(readonly key: string) {
    super(`Idempotency-Key "${key}" was already used with a different request body`);
    this.name = 'IdempotencyConflictError';
  }
}
