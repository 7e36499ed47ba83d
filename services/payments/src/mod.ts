// Public entry of @outbox-relay/payments: the worker, its gateway adapter interface and fake, its migrations.
export { startPaymentWorker, type PaymentWorker, type PaymentWorkerDeps, type PaymentWorkerSettings, type PaymentStats } from './worker/payment-worker';
export { PaymentHandler, type PaymentHandlerDeps, type PaymentResult } from './worker/payment-handler';
export { PaymentInbox, type PaymentCounters } from './worker/payment-inbox';
export { PaymentGatewayError, type PaymentGateway, type ChargeRequest, type ChargeResult } from './gateway/gateway';
export { FakePaymentGateway, fakeOutcome, type FakeGatewaySettings, type FakeCharge } from './gateway/fake-gateway';
export { PaymentRepository, type PaymentStart } from './data/payment-repository';
export {
  ORDER_EVENTS_AGGREGATE,
  ORDER_CREATED_EVENT,
  PAYMENT_AGGREGATE,
  PAYMENT_STARTED,
  PAYMENT_SUCCEEDED,
  PAYMENT_FAILED,
  orderCreatedPayloadSchema,
  paymentStartedEvent,
  paymentSucceededEvent,
  paymentFailedEvent,
} from './domain/events';
export { migratePayments, PAYMENTS_MIGRATIONS_DIR, FAKE_GATEWAY_MIGRATIONS_DIR, type MigratePaymentsOptions } from './migrate';
export { paymentsEnvSchema, paymentsEnvShape, paymentWorkerSettings, type PaymentsConfig } from './config';
export { registerPaymentMetrics } from './metrics';
export { createPaymentsHttp, type PaymentsHttpOptions } from './http/payments-http';
