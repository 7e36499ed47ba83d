// Public entry of @outbox-relay/orders: the HTTP app, its migrations and its configuration.
export { createOrdersHttp, type OrdersHttpOptions } from './http/app';
export { migrateOrders, ORDERS_MIGRATIONS_DIR, type MigrateOrdersOptions } from './migrate';
export { ordersEnvSchema, ordersEnvShape, type OrdersConfig } from './config';
export {
  createOrderRequestSchema,
  orderCreatedEvent,
  ORDER_AGGREGATE,
  ORDER_CREATED,
  ORDER_STATES,
  type Order,
  type OrderState,
  type OrderCreatedPayload,
  type CreateOrderRequest,
} from './domain/order';
export {
  ORDER_TRANSITIONS,
  canTransition,
  assertTransition,
  OrderStateError,
  IllegalTransitionError,
  StaleVersionError,
  OrderNotFoundError,
} from './domain/order-state';
export { OrderRepository, type NewOrder } from './data/order-repository';
export { PAYMENT_EVENTS_AGGREGATE, PAYMENT_EVENT_TYPES, paymentEventPayloadSchema, statesAfterPaymentEvent, type PaymentEventType } from './domain/payment-events';
export { paymentEventsHandler, type PaymentEventResult } from './consumers/payment-events-handler';
export { startPaymentEventsConsumer, type PaymentEventsConsumerSettings } from './consumers/payment-events-consumer';
