import { Inbox, type HandleOutcome, type InboxEvent, type InboxHandler, type InboxOptions } from '@outbox-relay/inbox';
import type { PaymentResult } from './payment-handler';

/** Payment outcomes counted only once their transaction committed. */
export interface PaymentCounters {
  succeeded: number;
  alreadyPaid: number;
}

function isPaymentResult(value: unknown): value is PaymentResult {
  return typeof value === 'object' && value !== null && 'outcome' in value;
}

/**
 * The inbox of the payment worker: counts payments after their transaction committed (a handler cannot know
 * whether its COMMIT succeeded, so it must not count by itself).
 */
export class PaymentInbox extends Inbox {
  readonly counters: PaymentCounters = { succeeded: 0, alreadyPaid: 0 };

  constructor(options: InboxOptions) {
    super(options);
  }

  override async handleOnce<T>(event: InboxEvent, handler: InboxHandler<T>): Promise<HandleOutcome<T>> {
    const outcome = await super.handleOnce(event, handler);
    if (outcome.status === 'processed' && isPaymentResult(outcome.value)) {
      if (outcome.value.outcome === 'paid') this.counters.succeeded++;
      else if (outcome.value.outcome === 'already-paid') this.counters.alreadyPaid++;
    }
    return outcome;
  }
}
